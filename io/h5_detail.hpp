// Internals shared by the io/h5 sources (not for use outside io/h5*.cpp): an owning HDF5 handle, the
// string type relfm writes, and HDF5's two-call names-by-index pattern.
#pragma once

#include <hdf5.h>

#include <algorithm>
#include <string>
#include <vector>

namespace relfm::h5::detail {

// Closes an HDF5 identifier of any kind when it goes out of scope.
struct Handle {
  hid_t id = -1;
  explicit Handle(hid_t h) : id(h) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id(other.id) { other.id = -1; }
  ~Handle() {
    if (id >= 0) H5Idec_ref(id);
  }
  operator hid_t() const { return id; }
  bool ok() const { return id >= 0; }
};

inline hid_t string_type(size_t length) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::max<size_t>(length, 1));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// HDF5 hands out names by index in two calls: the length first, then the characters.
template <typename GetName>
std::vector<std::string> names_by_index(hsize_t count, GetName&& get_name) {
  std::vector<std::string> out;
  for (hsize_t i = 0; i < count; ++i) {
    const ssize_t n = get_name(i, nullptr, 0);
    std::string name(static_cast<size_t>(std::max<ssize_t>(n, 0)), '\0');
    get_name(i, name.data(), name.size() + 1);
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace relfm::h5::detail
