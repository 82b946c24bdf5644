// Readers of public sequence-classification text formats into SequenceSets (src/seq/sequence_set.hpp). Errors
// name the file and the 1-based line.
//   LRA ListOps TSV (listops-1000/basic_{train,val,test}.tsv): a "Source<TAB>Target" header, then one
//     expression per line in the released nested-parenthesis form and its value 0-9; tokenised as LRA's
//     input pipeline does (src/seq/listops.hpp: tokenize).
//   Byte-level text TSV (LRA's "Text" task, or a user's corpus): "label<TAB>text" per line, label an
//     integer >= 0; the text's UTF-8 bytes become ids 1-256 (byte + 1; 0 is padding), as TFDS's
//     ByteTextEncoder. A header line "label<TAB>text" is skipped.
// A sequence longer than max_length is an error, or is cut to max_length when `truncate` is set.
#pragma once

#include "src/seq/sequence_set.hpp"

#include <string>

namespace relfm {

inline constexpr int64_t kByteVocabularySize = 257;

SequenceSet read_listops_tsv(const std::string& path, int64_t max_length, bool truncate);
SequenceSet read_text_tsv(const std::string& path, int64_t max_length, bool truncate);

}  // namespace relfm
