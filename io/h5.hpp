// A small RAII layer over parallel HDF5 (MPI-IO driver). Every call here is collective over the file's
// communicator unless its comment says otherwise: all ranks call it, in the same order, with the same
// arguments (data aside). Errors become relfm::InputError naming the file (and dataset), never an HDF5
// error stack on stderr.
//
// Reads use independent MPI-IO transfers: an error on one rank then never leaves another rank waiting
// inside a collective read, so readers can wrap whole read sequences in Comm::collective().
// Writing models:
//  * write_replicated: every rank holds the same data; rank 0's copy is written (collective transfer,
//    the other ranks select nothing).
//  * write_rows: each rank holds a block of rows; blocks are stacked in rank order (offsets by MPI_Exscan).
#pragma once

#include "dist/comm.hpp"

#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace relfm::h5 {

template <typename T>
hid_t native_type();

class File {
 public:
  File() = default;
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  // Creates (truncating) `path`. The parent directory must exist.
  static File create(const std::string& path, const dist::Comm& comm);
  // Creates (truncating) `path` for this process alone (POSIX driver, no MPI-IO): for files one rank
  // writes, which may then hold variable-length strings (parallel HDF5 cannot write those through MPI-IO).
  static File create_local(const std::string& path);
  // Opens an existing file read-only. A missing, unreadable, non-HDF5 or truncated file is an InputError.
  static File open(const std::string& path, const dist::Comm& comm);

  const std::string& path() const { return path_; }
  hid_t id() const { return id_; }
  const dist::Comm& comm() const { return *comm_; }
  void close();  // flushes; collective

  bool exists(const std::string& object) const;  // "/a/b"; intermediate groups need not exist
  bool is_group(const std::string& object) const;
  // Names of a group's direct members, sorted (rank-local).
  std::vector<std::string> list(const std::string& group) const;
  // Every object below `group` ("/a/b" paths, depth first, sorted) with whether it is a dataset.
  std::vector<std::pair<std::string, bool>> walk(const std::string& group = "/") const;
  // Names of an object's attributes, sorted; and whether one holds an integer (else a float or a string).
  std::vector<std::string> attr_names(const std::string& object) const;
  bool attr_is_integer(const std::string& object, const std::string& name) const;
  bool attr_is_string(const std::string& object, const std::string& name) const;
  void create_group(const std::string& group);   // creates missing parents

  // ---- attributes (on "/" or any group / dataset) ----
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  void set_attr(const std::string& object, const std::string& name, int64_t value);
  void set_attr(const std::string& object, const std::string& name, double value);
  void set_attr(const std::string& object, const std::string& name, const std::vector<std::string>& values);
  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  int64_t attr_int(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& object, const std::string& name) const;

  // ---- datasets ----
  template <typename T>
  void write_replicated(const std::string& dataset, const T* data, const std::vector<int64_t>& dims);
  template <typename T>
  void write_replicated(const std::string& dataset, const std::vector<T>& data) {
    write_replicated(dataset, data.data(), {static_cast<int64_t>(data.size())});
  }
  // local_rows x cols per rank (cols = 0 for a 1-D dataset).
  template <typename T>
  void write_rows(const std::string& dataset, const T* data, int64_t local_rows, int64_t cols = 0);
  // Appends each rank's `local_rows` x `cols` block (stacked in rank order) to a dataset that grows
  // along its first axis, creating it (chunked, `chunk_rows` rows per chunk) on first use. Collective.
  // For records that arrive while a job runs: sampled batches, gate trajectories, per-call LLM records.
  template <typename T>
  void append_rows(const std::string& dataset, const T* data, int64_t local_rows, int64_t cols = 0,
                   int64_t chunk_rows = 1024);
  // A text as a scalar fixed-length string (h5py: f[name][()].decode()).
  void write_text(const std::string& dataset, const std::string& text);
  // A 1-D dataset of variable-length UTF-8 strings (h5py: f[name].asstr()[()]); files from create_local
  // only (see there).
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& dataset) const;

  std::vector<int64_t> dims(const std::string& dataset) const;
  bool is_integer(const std::string& dataset) const;  // the stored type's class (int64 vs float64)
  // Every rank reads rows [begin, end) (all columns); end = -1 means to the end.
  template <typename T>
  std::vector<T> read_rows(const std::string& dataset, int64_t begin = 0, int64_t end = -1) const;
  std::string read_text(const std::string& dataset) const;

  // Checks the root's `format` attribute and that `format_version` <= max_version.
  void expect_format(const std::string& format, int64_t max_version) const;

 private:
  hid_t open_dataset(const std::string& dataset) const;
  std::unique_ptr<dist::Comm> own_comm_;  // create_local: a communicator of this process alone
  bool local_ = false;
  std::string path_;
  hid_t id_ = -1;
  const dist::Comm* comm_ = nullptr;
};

// Writes through `write` into "<path>.tmp", closes, then (rank 0) renames onto `path`: readers see the
// old file or the complete new one, never a half-written one, even if the job is killed mid-write.
template <typename WriteFn>
void write_atomically(const std::string& path, const dist::Comm& comm, WriteFn&& write);
void commit_atomic(const std::string& tmp_path, const std::string& path, const dist::Comm& comm);

// Rank 0 alone writes `path` (through "<path>.tmp" and a rename, as above) with create_local; the other
// ranks wait. Collective: an error on rank 0 is raised on every rank. For small files whose content rank
// 0 holds (results), and the only way to write variable-length strings.
template <typename WriteFn>
void write_on_root(const std::string& path, const dist::Comm& comm, WriteFn&& write);
// Makes `tmp_path` durable and renames it onto `path` (this process alone).
void commit_local(const std::string& tmp_path, const std::string& path);

// Silences HDF5's automatic error printing for this process (we report errors ourselves).
void quiet_hdf5_errors();

// SHA-256 of a file's bytes, in hex (rank-local; no collective).
std::string sha256_file(const std::string& path);

template <typename WriteFn>
void write_atomically(const std::string& path, const dist::Comm& comm, WriteFn&& write) {
  // Not wrapped in Comm::collective: a failure inside a sequence of collective writes would leave the
  // other ranks waiting in MPI-IO, so it must escape to run_main and abort the job (the target file is
  // untouched; only the .tmp is left behind).
  const std::string tmp = path + ".tmp";
  File f = File::create(tmp, comm);
  write(f);
  f.close();
  commit_atomic(tmp, path, comm);
}

template <typename WriteFn>
void write_on_root(const std::string& path, const dist::Comm& comm, WriteFn&& write) {
  comm.collective([&] {
    if (!comm.is_root()) return;
    const std::string tmp = path + ".tmp";
    File f = File::create_local(tmp);
    write(f);
    f.close();
    commit_local(tmp, path);
  });
}

}  // namespace relfm::h5
