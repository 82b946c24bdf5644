// The attribute half of io/h5: writing, listing and reading attributes on groups and datasets.
#include "io/h5.hpp"
#include "io/h5_detail.hpp"

#include "src/core/error.hpp"

#include <cstring>

namespace relfm::h5 {

using detail::Handle;
using detail::names_by_index;
using detail::string_type;

namespace {

hid_t open_object(hid_t file, const std::string& path, const std::string& object) {
  hid_t o = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  if (o < 0) fail_input("'{}' has no object '{}'", path, object);
  return o;
}

void write_attribute(hid_t file, const std::string& path, const std::string& object, const std::string& name,
                     hid_t type, hid_t space, const void* data) {
  Handle o(open_object(file, path, object));
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  Handle a(H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.ok() || H5Awrite(a, type, data) < 0) fail("'{}': cannot write attribute '{}' on '{}'", path, name, object);
}

Handle read_attribute(hid_t file, const std::string& path, const std::string& object, const std::string& name) {
  Handle o(open_object(file, path, object));
  if (H5Aexists(o, name.c_str()) <= 0) fail_input("'{}': '{}' has no attribute '{}'", path, object, name);
  return Handle(H5Aopen(o, name.c_str(), H5P_DEFAULT));
}

}  // namespace

void File::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  Handle type(string_type(value.size()));
  Handle space(H5Screate(H5S_SCALAR));
  write_attribute(id_, path_, object, name, type, space, value.empty() ? "" : value.data());
}

void File::set_attr(const std::string& object, const std::string& name, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attribute(id_, path_, object, name, H5T_NATIVE_INT64, space, &value);
}

void File::set_attr(const std::string& object, const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attribute(id_, path_, object, name, H5T_NATIVE_DOUBLE, space, &value);
}

void File::set_attr(const std::string& object, const std::string& name, const std::vector<std::string>& values) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> packed(width * std::max<size_t>(values.size(), 1), '\0');
  for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), packed.begin() + i * width);
  Handle type(string_type(width));
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  write_attribute(id_, path_, object, name, type, space, packed.data());
}

bool File::has_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  Handle o(open_object(id_, path_, object));
  return H5Aexists(o, name.c_str()) > 0;
}

std::vector<std::string> File::attr_names(const std::string& object) const {
  Handle o(open_object(id_, path_, object));
  H5O_info_t info;
  H5Oget_info2(o, &info, H5O_INFO_NUM_ATTRS);
  return names_by_index(info.num_attrs, [&](hsize_t i, char* buffer, size_t size) {
    return H5Aget_name_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, H5P_DEFAULT);
  });
}

bool File::attr_is_integer(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  Handle type(H5Aget_type(a));
  return H5Tget_class(type) == H5T_INTEGER;
}

bool File::attr_is_string(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  Handle type(H5Aget_type(a));
  return H5Tget_class(type) == H5T_STRING;
}

std::string File::attr_string(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  Handle type(H5Aget_type(a));
  if (H5Tget_class(type) != H5T_STRING) fail_input("'{}': attribute '{}' of '{}' is not a string", path_, name, object);
  if (H5Tis_variable_str(type) > 0) {
    char* text = nullptr;
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));  // h5py writes UTF-8; HDF5 will not convert between character sets
    if (H5Aread(a, mem, &text) < 0) fail_input("'{}': cannot read attribute '{}' of '{}'", path_, name, object);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  const size_t size = H5Tget_size(type);
  std::string out(size, '\0');
  H5Aread(a, type, out.data());
  out.resize(std::strlen(out.c_str()));
  return out;
}

int64_t File::attr_int(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  int64_t v = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail_input("'{}': attribute '{}' of '{}' is not an integer", path_, name, object);
  return v;
}

double File::attr_double(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  double v = 0;
  if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) fail_input("'{}': attribute '{}' of '{}' is not a number", path_, name, object);
  return v;
}

std::vector<std::string> File::attr_strings(const std::string& object, const std::string& name) const {
  Handle a(read_attribute(id_, path_, object, name));
  Handle type(H5Aget_type(a));
  Handle space(H5Aget_space(a));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const size_t width = H5Tget_size(type);
  std::vector<char> packed(width * static_cast<size_t>(std::max<hssize_t>(n, 1)));
  if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0 || H5Aread(a, type, packed.data()) < 0)
    fail_input("'{}': attribute '{}' of '{}' is not a fixed-length string array", path_, name, object);
  std::vector<std::string> out;
  for (hssize_t i = 0; i < n; ++i) {
    std::string s(packed.data() + i * width, width);
    s.resize(std::strlen(s.c_str()));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace relfm::h5
