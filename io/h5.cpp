#include "io/h5.hpp"
#include "io/h5_detail.hpp"

#include "src/core/error.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <memory>

namespace relfm::h5 {

using detail::Handle;
using detail::names_by_index;
using detail::string_type;

template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<char>() { return H5T_NATIVE_CHAR; }

namespace {

// Creation properties without modification times: HDF5 stamps every object with the clock by default, so
// two runs that compute the same thing would write different bytes. relfm's outputs are reproducible
// files (e.g. a rerun of the tp job over a warm cache gives a byte-identical results.h5).
Handle untimed(hid_t property_class) {
  Handle p(H5Pcreate(property_class));
  H5Pset_obj_track_times(p, false);
  return p;
}

std::string parent_of(const std::string& object) {
  const auto slash = object.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : object.substr(0, slash);
}

hid_t file_access(const dist::Comm& comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm.get(), MPI_INFO_NULL);
  // Several jobs may read one shard at once (e.g. a Slurm array); locking would make them fail.
  H5Pset_file_locking(fapl, false, true);
  return fapl;
}

}  // namespace

void quiet_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

File::File(File&& other) noexcept
    : own_comm_(std::move(other.own_comm_)), local_(other.local_), path_(std::move(other.path_)), id_(other.id_),
      comm_(other.comm_) {
  other.id_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    own_comm_ = std::move(other.own_comm_);
    local_ = other.local_;
    path_ = std::move(other.path_);
    id_ = other.id_;
    comm_ = other.comm_;
    other.id_ = -1;
  }
  return *this;
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

void File::close() {
  if (id_ >= 0) {
    const herr_t status = H5Fclose(id_);
    id_ = -1;
    if (status < 0) fail("closing '{}' failed (disk full or file system error?)", path_);
  }
}

File File::create(const std::string& path, const dist::Comm& comm) {
  quiet_hdf5_errors();
  Handle fapl(file_access(comm));
  File f;
  f.path_ = path;
  f.comm_ = &comm;
  f.id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f.id_ < 0) fail_input("cannot create '{}' (does its directory exist and is it writable?)", path);
  return f;
}

File File::create_local(const std::string& path) {
  quiet_hdf5_errors();
  File f;
  f.own_comm_ = std::make_unique<dist::Comm>(MPI_COMM_SELF);
  f.comm_ = f.own_comm_.get();
  f.local_ = true;
  f.path_ = path;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_file_locking(fapl, false, true);
  f.id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f.id_ < 0) fail_input("cannot create '{}' (does its directory exist and is it writable?)", path);
  return f;
}

File File::open(const std::string& path, const dist::Comm& comm) {
  quiet_hdf5_errors();
  // Rank 0 vets the file serially first, so that every rank fails together with one message rather than
  // inside the collective open.
  comm.collective([&] {
    if (!comm.is_root()) return;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail_input("'{}' does not exist", path);
    if (std::filesystem::is_directory(path, ec)) fail_input("'{}' is a directory, not an HDF5 file", path);
    std::ifstream probe(path, std::ios::binary);
    if (!probe) fail_input("cannot read '{}'", path);
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
    if (is_hdf5 <= 0) fail_input("'{}' is not an HDF5 file", path);
    Handle serial(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!serial.ok()) fail_input("'{}' is damaged or truncated (HDF5 cannot open it)", path);
  });
  Handle fapl(file_access(comm));
  File f;
  f.path_ = path;
  f.comm_ = &comm;
  f.id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (f.id_ < 0) fail_input("cannot open '{}' for parallel reading", path);
  return f;
}

bool File::exists(const std::string& object) const {
  if (object == "/") return true;
  // Check each prefix: H5Lexists fails (rather than returning false) when a parent is missing.
  size_t pos = 1;
  while (true) {
    const size_t next = object.find('/', pos);
    const std::string prefix = object.substr(0, next);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next + 1;
  }
}

bool File::is_group(const std::string& object) const {
  if (!exists(object)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name2(id_, object.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> File::list(const std::string& group) const {
  if (!is_group(group)) fail_input("'{}' has no group '{}'", path_, group);
  Handle g(H5Gopen2(id_, group.c_str(), H5P_DEFAULT));
  H5G_info_t info;
  H5Gget_info(g, &info);
  return names_by_index(info.nlinks, [&](hsize_t i, char* buffer, size_t size) {
    return H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, H5P_DEFAULT);
  });
}

std::vector<std::pair<std::string, bool>> File::walk(const std::string& group) const {
  std::vector<std::pair<std::string, bool>> out;
  for (const std::string& name : list(group)) {
    const std::string child = (group == "/" ? "/" : group + "/") + name;
    const bool dataset = !is_group(child);
    out.emplace_back(child, dataset);
    if (!dataset) {
      auto below = walk(child);
      out.insert(out.end(), below.begin(), below.end());
    }
  }
  return out;
}

void File::create_group(const std::string& group) {
  if (exists(group)) return;
  if (parent_of(group) != "/") create_group(parent_of(group));
  Handle g(H5Gcreate2(id_, group.c_str(), H5P_DEFAULT, untimed(H5P_GROUP_CREATE), H5P_DEFAULT));
  if (!g.ok()) fail("'{}': cannot create group '{}'", path_, group);
}

hid_t File::open_dataset(const std::string& dataset) const {
  if (!exists(dataset)) fail_input("'{}' has no dataset '{}'", path_, dataset);
  hid_t d = H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) fail_input("'{}': cannot open dataset '{}'", path_, dataset);
  return d;
}

std::vector<int64_t> File::dims(const std::string& dataset) const {
  Handle d(open_dataset(dataset));
  Handle space(H5Dget_space(d));
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> h(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, h.data(), nullptr);
  return std::vector<int64_t>(h.begin(), h.end());
}

bool File::is_integer(const std::string& dataset) const {
  Handle d(open_dataset(dataset));
  Handle type(H5Dget_type(d));
  return H5Tget_class(type) == H5T_INTEGER;
}

namespace {

// Whether the file goes through MPI-IO (create/open) or the POSIX driver (create_local).
bool uses_mpio(hid_t file) {
  Handle fapl(H5Fget_access_plist(file));
  return H5Pget_driver(fapl) == H5FD_MPIO;
}

// Creates `dataset` and writes rank 0's `data` into all of it with one collective transfer (the other
// ranks select nothing). `elements` = 0 creates an empty dataset without a transfer, which MPI-IO rejects.
void write_from_root(hid_t file, const std::string& path, const dist::Comm& comm, const std::string& dataset,
                     hid_t type, hid_t space, const void* data, int64_t elements) {
  Handle d(H5Dcreate2(file, dataset.c_str(), type, space, H5P_DEFAULT, untimed(H5P_DATASET_CREATE), H5P_DEFAULT));
  if (!d.ok()) fail("'{}': cannot create dataset '{}'", path, dataset);
  if (elements == 0) return;
  Handle mem(H5Scopy(space));
  Handle file_space(H5Scopy(space));
  if (!comm.is_root()) {
    H5Sselect_none(mem);
    H5Sselect_none(file_space);
  }
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER));
  if (uses_mpio(file)) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  if (H5Dwrite(d, type, mem, file_space, dxpl, data) < 0) fail("'{}': writing '{}' failed", path, dataset);
}

}  // namespace

// Writes this rank's block [start, start + count) of a dataset (count[0] = 0: this rank writes nothing but
// still takes part in the collective transfer).
template <typename T>
void write_block(hid_t d, hid_t file_space, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 bool collective, const T* data, const std::string& path, const std::string& dataset) {
  Handle mem(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  const bool any = count[0] > 0;
  if (any) {
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  } else {
    H5Sselect_none(file_space);
    H5Sselect_none(mem);
  }
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER));
  if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  static const T dummy{};  // HDF5 rejects a null buffer even for an empty selection
  if (H5Dwrite(d, native_type<T>(), mem, file_space, dxpl, any && data ? data : &dummy) < 0)
    fail("'{}': writing '{}' failed", path, dataset);
}

template <typename T>
void File::write_replicated(const std::string& dataset, const T* data, const std::vector<int64_t>& dims) {
  if (parent_of(dataset) != "/") create_group(parent_of(dataset));
  std::vector<hsize_t> h(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr));
  int64_t total = 1;
  for (int64_t x : dims) total *= x;
  write_from_root(id_, path_, *comm_, dataset, native_type<T>(), space, data, total);
}

template <typename T>
void File::write_rows(const std::string& dataset, const T* data, int64_t local_rows, int64_t cols) {
  if (parent_of(dataset) != "/") create_group(parent_of(dataset));
  const int64_t offset = comm_->exclusive_scan(local_rows);
  const int64_t total = comm_->sum(local_rows);
  std::vector<hsize_t> dims{static_cast<hsize_t>(total)};
  if (cols > 0) dims.push_back(static_cast<hsize_t>(cols));
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle d(H5Dcreate2(id_, dataset.c_str(), native_type<T>(), space, H5P_DEFAULT, untimed(H5P_DATASET_CREATE), H5P_DEFAULT));
  if (!d.ok()) fail("'{}': cannot create dataset '{}'", path_, dataset);
  if (total == 0) return;  // MPI-IO rejects an empty collective write
  std::vector<hsize_t> start{static_cast<hsize_t>(offset)}, count{static_cast<hsize_t>(local_rows)};
  if (cols > 0) {
    start.push_back(0);
    count.push_back(static_cast<hsize_t>(cols));
  }
  Handle file_space(H5Scopy(space));
  write_block(d, file_space, start, count, !local_, data, path_, dataset);
}

template <typename T>
void File::append_rows(const std::string& dataset, const T* data, int64_t local_rows, int64_t cols, int64_t chunk_rows) {
  const int64_t offset_in_batch = comm_->exclusive_scan(local_rows);
  const int64_t added = comm_->sum(local_rows);
  std::vector<hsize_t> dims{0};
  if (cols > 0) dims.push_back(static_cast<hsize_t>(cols));
  if (!exists(dataset)) {
    if (parent_of(dataset) != "/") create_group(parent_of(dataset));
    std::vector<hsize_t> max_dims(dims.size(), static_cast<hsize_t>(cols));
    max_dims[0] = H5S_UNLIMITED;
    std::vector<hsize_t> chunk(dims.size(), static_cast<hsize_t>(cols));
    chunk[0] = static_cast<hsize_t>(std::max<int64_t>(chunk_rows, 1));
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()));
    Handle dcpl = untimed(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    Handle d(H5Dcreate2(id_, dataset.c_str(), native_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (!d.ok()) fail("'{}': cannot create the growing dataset '{}'", path_, dataset);
  }
  Handle d(open_dataset(dataset));
  Handle old_space(H5Dget_space(d));
  const int rank = H5Sget_simple_extent_ndims(old_space);
  if (rank != static_cast<int>(dims.size())) fail("'{}': '{}' has {} dimensions, not {}", path_, dataset, rank, dims.size());
  std::vector<hsize_t> now(dims.size());
  H5Sget_simple_extent_dims(old_space, now.data(), nullptr);
  if (cols > 0 && now[1] != static_cast<hsize_t>(cols))
    fail("'{}': '{}' has {} columns, not {}", path_, dataset, now[1], cols);
  if (added == 0) return;
  const hsize_t start_row = now[0];
  now[0] += static_cast<hsize_t>(added);
  if (H5Dset_extent(d, now.data()) < 0) fail("'{}': cannot grow '{}'", path_, dataset);
  Handle file_space(H5Dget_space(d));
  std::vector<hsize_t> start(dims.size(), 0), count(dims.size(), static_cast<hsize_t>(cols));
  start[0] = start_row + static_cast<hsize_t>(offset_in_batch);
  count[0] = static_cast<hsize_t>(local_rows);
  write_block(d, file_space, start, count, !local_, data, path_, dataset);
}

void File::write_text(const std::string& dataset, const std::string& text) {
  if (parent_of(dataset) != "/") create_group(parent_of(dataset));
  Handle type(string_type(text.size()));
  Handle space(H5Screate(H5S_SCALAR));
  const std::string padded = text.empty() ? std::string(1, '\0') : text;
  write_from_root(id_, path_, *comm_, dataset, type, space, padded.data(), 1);
}

void File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  if (!local_)
    fail("'{}': variable-length strings cannot be written through MPI-IO; write this file with h5::write_on_root",
         path_);
  if (parent_of(dataset) != "/") create_group(parent_of(dataset));
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  write_from_root(id_, path_, *comm_, dataset, type, space, pointers.data(), static_cast<int64_t>(n));
}

std::vector<std::string> File::read_strings(const std::string& dataset) const {
  Handle d(open_dataset(dataset));
  Handle type(H5Dget_type(d));
  if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) <= 0)
    fail_input("'{}': '{}' is not a variable-length string dataset", path_, dataset);
  Handle space(H5Dget_space(d));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<char*> pointers(static_cast<size_t>(std::max<hssize_t>(n, 0)), nullptr);
  std::vector<std::string> out;
  if (n <= 0) return out;
  Handle mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem, H5T_VARIABLE);
  H5Tset_cset(mem, H5Tget_cset(type));
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER));
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
  if (H5Dread(d, mem, H5S_ALL, H5S_ALL, dxpl, pointers.data()) < 0)
    fail_input("'{}': reading '{}' failed (is the file truncated?)", path_, dataset);
  for (char* p : pointers) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(mem, space, H5P_DEFAULT, pointers.data());
  return out;
}

template <typename T>
std::vector<T> File::read_rows(const std::string& dataset, int64_t begin, int64_t end) const {
  Handle d(open_dataset(dataset));
  Handle space(H5Dget_space(d));
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  if (rank < 1) fail_input("'{}': dataset '{}' is not an array", path_, dataset);
  const int64_t rows = static_cast<int64_t>(dims[0]);
  if (end < 0) end = rows;
  if (begin < 0 || begin > end || end > rows)
    fail_input("'{}': rows [{}, {}) of '{}' requested but it has {} rows", path_, begin, end, dataset, rows);
  int64_t row_size = 1;
  for (int i = 1; i < rank; ++i) row_size *= static_cast<int64_t>(dims[i]);
  std::vector<T> out(static_cast<size_t>((end - begin) * row_size));
  if (out.empty()) return out;
  std::vector<hsize_t> start(dims.size(), 0), count(dims);
  start[0] = static_cast<hsize_t>(begin);
  count[0] = static_cast<hsize_t>(end - begin);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mem(H5Screate_simple(rank, count.data(), nullptr));
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER));
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
  if (H5Dread(d, native_type<T>(), mem, space, dxpl, out.data()) < 0)
    fail_input("'{}': reading '{}' failed (is the file truncated?)", path_, dataset);
  return out;
}

std::string File::read_text(const std::string& dataset) const {
  Handle d(open_dataset(dataset));
  Handle type(H5Dget_type(d));
  if (H5Tget_class(type) != H5T_STRING) fail_input("'{}': '{}' is not a string", path_, dataset);
  std::string out(H5Tget_size(type), '\0');
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER));
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
  if (H5Dread(d, type, H5S_ALL, H5S_ALL, dxpl, out.data()) < 0)
    fail_input("'{}': reading '{}' failed (is the file truncated?)", path_, dataset);
  out.resize(std::strlen(out.c_str()));
  return out;
}

void File::expect_format(const std::string& format, int64_t max_version) const {
  if (!has_attr("/", "format")) fail_input("'{}' is not a relfm file (no 'format' attribute); expected a {}", path_, format);
  const std::string actual = attr_string("/", "format");
  if (actual != format) fail_input("'{}' is a {}, but a {} is needed here", path_, actual, format);
  const int64_t version = attr_int("/", "format_version");
  if (version > max_version)
    fail_input("'{}' has {} version {}; this relfm reads versions up to {}", path_, format, version, max_version);
}

void commit_atomic(const std::string& tmp_path, const std::string& path, const dist::Comm& comm) {
  comm.barrier();  // every rank has closed the temporary file
  // The bytes are made durable before the rename makes them visible, and the directory after it (the
  // rename lives in the directory: without that sync a power loss can bring back the old file).
  if (comm.is_root()) commit_local(tmp_path, path);
  comm.barrier();
}

void commit_local(const std::string& tmp_path, const std::string& path) {
  if (FILE* f = std::fopen(tmp_path.c_str(), "rb")) {
    fsync(fileno(f));
    std::fclose(f);
  }
  std::error_code ec;
  std::filesystem::rename(tmp_path, path, ec);
  if (ec) fail("cannot rename '{}' to '{}': {}", tmp_path, path, ec.message());
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    ::close(fd);
  }
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input("cannot read '{}' to checksum it", path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

#define RELFM_H5_INSTANTIATE(T)                                                                     \
  template void File::write_replicated<T>(const std::string&, const T*, const std::vector<int64_t>&); \
  template void File::write_rows<T>(const std::string&, const T*, int64_t, int64_t);                 \
  template void File::append_rows<T>(const std::string&, const T*, int64_t, int64_t, int64_t);       \
  template std::vector<T> File::read_rows<T>(const std::string&, int64_t, int64_t) const;

RELFM_H5_INSTANTIATE(float)
RELFM_H5_INSTANTIATE(double)
RELFM_H5_INSTANTIATE(int32_t)
RELFM_H5_INSTANTIATE(int64_t)
RELFM_H5_INSTANTIATE(uint64_t)
RELFM_H5_INSTANTIATE(uint8_t)
RELFM_H5_INSTANTIATE(char)

}  // namespace relfm::h5
