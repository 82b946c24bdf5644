// SMILES → molecule graph with OGB's categorical features (ogb/utils/features.py, smiles2graph), so that
// models trained here see exactly the inputs of OGB, pretrain-gnns and MolGroup. Verified atom by atom
// against OGB's precomputed bace and bbbp graphs (tests/src/mol/featurize_test.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relfm {

// Rows of each embedding table; the last row of every table is OGB's "misc" value.
// Atom: atomic number, chirality, degree, formal charge, #H, #radical electrons, hybridisation,
// aromatic, in ring. Bond: type, stereo, conjugated.
inline constexpr std::array<int32_t, 9> kOgbAtomFeatureDims = {119, 5, 12, 12, 10, 6, 6, 2, 2};
inline constexpr std::array<int32_t, 3> kOgbBondFeatureDims = {5, 6, 2};

struct MolGraph {
  int32_t num_atoms = 0;
  std::vector<std::array<uint8_t, 9>> atom_features;  // OGB atom_to_feature_vector, RDKit atom order
  std::vector<std::array<int32_t, 2>> bonds;          // (begin atom, end atom), RDKit bond order, each bond once
  std::vector<std::array<uint8_t, 3>> bond_features;  // OGB bond_to_feature_vector

  int32_t num_bonds() const { return static_cast<int32_t>(bonds.size()); }
};

// The molecule is what Python's Chem.MolFromSmiles gives (default sanitisation, explicit H removed).
// nullopt when RDKit cannot parse or sanitise the SMILES; *error (if given) receives RDKit's reason.
// An empty SMILES is a valid molecule with no atoms, as in RDKit and OGB.
std::optional<MolGraph> smiles_to_graph(std::string_view smiles, std::string* error = nullptr);

// Which feature columns a model embeds. "simple" is MolGroup's default (and pretrain-gnns' input):
// atomic number and chirality for atoms, bond type and stereo for bonds.
enum class FeatureSet { kFull, kSimple };

FeatureSet parse_feature_set(std::string_view name);  // "full" | "simple"; InputError otherwise
std::string_view feature_set_name(FeatureSet set);

std::span<const int> atom_feature_columns(FeatureSet set);  // indices into MolGraph::atom_features
std::span<const int> bond_feature_columns(FeatureSet set);  // indices into MolGraph::bond_features
std::span<const int32_t> atom_feature_dims(FeatureSet set);  // table sizes of those columns, in order
std::span<const int32_t> bond_feature_dims(FeatureSet set);

}  // namespace relfm
