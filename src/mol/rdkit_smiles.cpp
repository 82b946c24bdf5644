#include "src/mol/rdkit_smiles.hpp"

#include <GraphMol/RWMol.h>
#include <GraphMol/SanitException.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <RDGeneral/RDLog.h>

#include <mutex>
#include <sstream>

namespace relfm::mol_detail {
namespace {

// C++ programs leave RDKit's logs switched off, and a syntax error is reported only through the error
// log; a temporary logger catches the message without touching whatever logger the program set up.
class ErrorLogCapture {
 public:
  ErrorLogCapture() : lock_(mutex()), saved_(rdErrorLog) {
    rdErrorLog = std::make_shared<boost::logging::rdLogger>(&stream_);
  }
  ~ErrorLogCapture() { rdErrorLog = saved_; }
  ErrorLogCapture(const ErrorLogCapture&) = delete;
  ErrorLogCapture& operator=(const ErrorLogCapture&) = delete;

  // The log lines without RDKit's "[hh:mm:ss] " prefixes, joined by "; ".
  std::string text() const {
    std::istringstream lines(stream_.str());
    std::string line, joined;
    while (std::getline(lines, line)) {
      if (!line.empty() && line[0] == '[') {
        const size_t close = line.find("] ");
        if (close != std::string::npos && close < 16) line.erase(0, close + 2);
      }
      if (line.empty()) continue;
      if (!joined.empty()) joined += "; ";
      joined += line;
    }
    return joined;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> lock_;
  RDLogger saved_;
  std::ostringstream stream_;
};

// Python's MolFromSmiles swallows every exception and returns None; so do we, keeping the reason.
std::unique_ptr<RDKit::RWMol> try_parse(const std::string& smiles, std::string* error) {
  try {
    return std::unique_ptr<RDKit::RWMol>(RDKit::SmilesToMol(smiles));
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
  } catch (...) {
    if (error != nullptr) *error = "RDKit raised an unknown exception";
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<RDKit::RWMol> parse_smiles(std::string_view smiles, std::string* error) {
  const std::string text(smiles);
  std::string reason;
  if (auto mol = try_parse(text, &reason)) return mol;
  if (error == nullptr) return nullptr;
  if (reason.empty()) {
    // Parsing again under a capture costs nothing on the common path, where parsing succeeds.
    ErrorLogCapture capture;
    try_parse(text, &reason);
    if (reason.empty()) reason = capture.text();
  }
  *error = reason.empty() ? "RDKit could not parse the SMILES" : reason;
  return nullptr;
}

}  // namespace relfm::mol_detail
