// Internal to src/mol: the one place that turns SMILES into an RDKit molecule, exactly as Python's
// Chem.MolFromSmiles does (default sanitisation, explicit hydrogens removed). Include only from .cpp
// files that already include RDKit; public headers of src/mol expose plain C++ types.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace RDKit {
class RWMol;
}

namespace relfm::mol_detail {

// nullptr when RDKit cannot parse or sanitise `smiles`; *error (if given) then receives RDKit's reason.
// RDKit's error log is global, so capturing the reason assumes no other thread is inside RDKit at the
// same moment (relfm runs one compute thread per rank).
std::unique_ptr<RDKit::RWMol> parse_smiles(std::string_view smiles, std::string* error);

}  // namespace relfm::mol_detail
