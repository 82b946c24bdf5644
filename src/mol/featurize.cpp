#include "src/mol/featurize.hpp"

#include "src/core/error.hpp"
#include "src/mol/rdkit_smiles.hpp"

#include <GraphMol/Atom.h>
#include <GraphMol/Bond.h>
#include <GraphMol/RWMol.h>
#include <GraphMol/RingInfo.h>

namespace relfm {
namespace {

// OGB looks every value up in a list whose last entry is "misc"; for the integer-valued features the
// list is 0..max, so anything outside maps to max + 1.
uint8_t bounded_index(int value, int max) {
  return static_cast<uint8_t>(value >= 0 && value <= max ? value : max + 1);
}

uint8_t atomic_number_index(const RDKit::Atom& atom) {
  const int z = static_cast<int>(atom.getAtomicNum());
  return static_cast<uint8_t>(z >= 1 && z <= 118 ? z - 1 : 118);  // the dummy atom '*' (Z = 0) is misc
}

uint8_t chirality_index(const RDKit::Atom& atom) {
  switch (atom.getChiralTag()) {
    case RDKit::Atom::CHI_UNSPECIFIED: return 0;
    case RDKit::Atom::CHI_TETRAHEDRAL_CW: return 1;
    case RDKit::Atom::CHI_TETRAHEDRAL_CCW: return 2;
    case RDKit::Atom::CHI_OTHER: return 3;
    default: return 4;  // the newer permutation-based tags (tetrahedral, allene, square planar, ...)
  }
}

uint8_t formal_charge_index(const RDKit::Atom& atom) {
  const int charge = atom.getFormalCharge();
  return static_cast<uint8_t>(charge >= -5 && charge <= 5 ? charge + 5 : 11);
}

uint8_t hybridization_index(const RDKit::Atom& atom) {
  switch (atom.getHybridization()) {
    case RDKit::Atom::SP: return 0;
    case RDKit::Atom::SP2: return 1;
    case RDKit::Atom::SP3: return 2;
    case RDKit::Atom::SP3D: return 3;
    case RDKit::Atom::SP3D2: return 4;
    default: return 5;  // S, UNSPECIFIED, OTHER
  }
}

std::array<uint8_t, 9> atom_features(const RDKit::Atom& atom, const RDKit::RingInfo& rings) {
  return {atomic_number_index(atom),
          chirality_index(atom),
          bounded_index(static_cast<int>(atom.getTotalDegree()), 10),
          formal_charge_index(atom),
          bounded_index(static_cast<int>(atom.getTotalNumHs()), 8),
          bounded_index(static_cast<int>(atom.getNumRadicalElectrons()), 4),
          hybridization_index(atom),
          static_cast<uint8_t>(atom.getIsAromatic() ? 1 : 0),
          static_cast<uint8_t>(rings.numAtomRings(atom.getIdx()) > 0 ? 1 : 0)};
}

uint8_t bond_type_index(const RDKit::Bond& bond) {
  switch (bond.getBondType()) {
    case RDKit::Bond::SINGLE: return 0;
    case RDKit::Bond::DOUBLE: return 1;
    case RDKit::Bond::TRIPLE: return 2;
    case RDKit::Bond::AROMATIC: return 3;
    default: return 4;
  }
}

uint8_t bond_stereo_index(const RDKit::Bond& bond) {
  switch (bond.getStereo()) {
    case RDKit::Bond::STEREONONE: return 0;
    case RDKit::Bond::STEREOZ: return 1;
    case RDKit::Bond::STEREOE: return 2;
    case RDKit::Bond::STEREOCIS: return 3;
    case RDKit::Bond::STEREOTRANS: return 4;
    case RDKit::Bond::STEREOANY: return 5;
  }
  // OGB's stereo list has no "misc" entry: an RDKit with more stereo kinds needs a new table row.
  fail("bond stereo value {} is not one of OGB's six", static_cast<int>(bond.getStereo()));
}

std::array<uint8_t, 3> bond_features(const RDKit::Bond& bond) {
  return {bond_type_index(bond), bond_stereo_index(bond),
          static_cast<uint8_t>(bond.getIsConjugated() ? 1 : 0)};
}

MolGraph graph_of(const RDKit::ROMol& mol) {
  MolGraph graph;
  graph.num_atoms = static_cast<int32_t>(mol.getNumAtoms());
  const RDKit::RingInfo& rings = *mol.getRingInfo();
  graph.atom_features.reserve(mol.getNumAtoms());
  for (const RDKit::Atom* atom : mol.atoms()) graph.atom_features.push_back(atom_features(*atom, rings));
  graph.bonds.reserve(mol.getNumBonds());
  graph.bond_features.reserve(mol.getNumBonds());
  for (const RDKit::Bond* bond : mol.bonds()) {
    graph.bonds.push_back({static_cast<int32_t>(bond->getBeginAtomIdx()),
                           static_cast<int32_t>(bond->getEndAtomIdx())});
    graph.bond_features.push_back(bond_features(*bond));
  }
  return graph;
}

constexpr int kAllAtomColumns[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
constexpr int kAllBondColumns[] = {0, 1, 2};
constexpr int kSimpleColumns[] = {0, 1};
constexpr int32_t kSimpleAtomDims[] = {kOgbAtomFeatureDims[0], kOgbAtomFeatureDims[1]};
constexpr int32_t kSimpleBondDims[] = {kOgbBondFeatureDims[0], kOgbBondFeatureDims[1]};

}  // namespace

std::optional<MolGraph> smiles_to_graph(std::string_view smiles, std::string* error) {
  const std::unique_ptr<RDKit::RWMol> mol = mol_detail::parse_smiles(smiles, error);
  if (!mol) return std::nullopt;
  return graph_of(*mol);
}

FeatureSet parse_feature_set(std::string_view name) {
  if (name == "full") return FeatureSet::kFull;
  if (name == "simple") return FeatureSet::kSimple;
  fail_input("unknown feature set '{}' (known: full, simple)", name);
}

std::string_view feature_set_name(FeatureSet set) { return set == FeatureSet::kFull ? "full" : "simple"; }

std::span<const int> atom_feature_columns(FeatureSet set) {
  if (set == FeatureSet::kSimple) return kSimpleColumns;
  return kAllAtomColumns;
}

std::span<const int> bond_feature_columns(FeatureSet set) {
  if (set == FeatureSet::kSimple) return kSimpleColumns;
  return kAllBondColumns;
}

std::span<const int32_t> atom_feature_dims(FeatureSet set) {
  if (set == FeatureSet::kSimple) return kSimpleAtomDims;
  return kOgbAtomFeatureDims;
}

std::span<const int32_t> bond_feature_dims(FeatureSet set) {
  if (set == FeatureSet::kSimple) return kSimpleBondDims;
  return kOgbBondFeatureDims;
}

}  // namespace relfm
