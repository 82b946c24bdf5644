// Dual numbers: a value and a directional derivative carried together, d(f(x + e v)) = f'(x) v e.
//
// Every op is a template on its scalar, so running forward and backward with Dual<double> differentiates
// the backward pass itself in the direction seeded into the inputs' tangents ("forward over reverse").
// Seeding parameters theta with tangent v and reading the tangent of the gradient with respect to phi
// gives the exact mixed Hessian-vector product (d^2 L / d phi d theta) v that MolGroup's meta-gradient
// needs (research/molgroup.md §1.4), with no finite-difference step to tune. See src/tensor/hvp.hpp.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <ostream>
#include <type_traits>

namespace relfm {

template <typename T>
struct Dual {
  T v{};  // value
  T d{};  // tangent

  Dual() = default;
  template <typename U, typename = std::enable_if_t<std::is_arithmetic_v<U>>>
  Dual(U value) : v(static_cast<T>(value)), d(0) {}  // NOLINT: constants convert implicitly, as in Eigen code
  Dual(T value, T tangent) : v(value), d(tangent) {}

  Dual& operator+=(const Dual& o) { v += o.v; d += o.d; return *this; }
  Dual& operator-=(const Dual& o) { v -= o.v; d -= o.d; return *this; }
  Dual& operator*=(const Dual& o) { d = d * o.v + v * o.d; v *= o.v; return *this; }
  Dual& operator/=(const Dual& o) { d = (d * o.v - v * o.d) / (o.v * o.v); v /= o.v; return *this; }
  // Explicit conversion drops the tangent (used where code deliberately leaves the differentiated path).
  template <typename U, typename = std::enable_if_t<std::is_arithmetic_v<U>>>
  explicit operator U() const { return static_cast<U>(v); }
};

template <typename T> Dual<T> operator+(Dual<T> a, const Dual<T>& b) { return a += b; }
template <typename T> Dual<T> operator-(Dual<T> a, const Dual<T>& b) { return a -= b; }
template <typename T> Dual<T> operator*(Dual<T> a, const Dual<T>& b) { return a *= b; }
template <typename T> Dual<T> operator/(Dual<T> a, const Dual<T>& b) { return a /= b; }
template <typename T> Dual<T> operator-(const Dual<T>& a) { return {-a.v, -a.d}; }
template <typename T> Dual<T> operator+(const Dual<T>& a) { return a; }
// Comparisons look at values only: a branch taken is the same branch for the tangent.
template <typename T> bool operator<(const Dual<T>& a, const Dual<T>& b) { return a.v < b.v; }
template <typename T> bool operator>(const Dual<T>& a, const Dual<T>& b) { return a.v > b.v; }
template <typename T> bool operator<=(const Dual<T>& a, const Dual<T>& b) { return a.v <= b.v; }
template <typename T> bool operator>=(const Dual<T>& a, const Dual<T>& b) { return a.v >= b.v; }
template <typename T> bool operator==(const Dual<T>& a, const Dual<T>& b) { return a.v == b.v && a.d == b.d; }
template <typename T> bool operator!=(const Dual<T>& a, const Dual<T>& b) { return !(a == b); }

template <typename T> Dual<T> exp(const Dual<T>& a) { const T e = std::exp(a.v); return {e, e * a.d}; }
template <typename T> Dual<T> log(const Dual<T>& a) { return {std::log(a.v), a.d / a.v}; }
template <typename T> Dual<T> log1p(const Dual<T>& a) { return {std::log1p(a.v), a.d / (T(1) + a.v)}; }
template <typename T> Dual<T> sqrt(const Dual<T>& a) { const T s = std::sqrt(a.v); return {s, a.d / (T(2) * s)}; }
template <typename T> Dual<T> tanh(const Dual<T>& a) { const T t = std::tanh(a.v); return {t, (T(1) - t * t) * a.d}; }
template <typename T> Dual<T> erf(const Dual<T>& a) {
  return {std::erf(a.v), T(1.1283791670955126) * std::exp(-a.v * a.v) * a.d};  // 2/sqrt(pi)
}
template <typename T> Dual<T> abs(const Dual<T>& a) { return a.v < T(0) ? -a : a; }
template <typename T> Dual<T> max(const Dual<T>& a, const Dual<T>& b) { return a.v >= b.v ? a : b; }
template <typename T> Dual<T> min(const Dual<T>& a, const Dual<T>& b) { return a.v <= b.v ? a : b; }
template <typename T> bool isnan(const Dual<T>& a) { return std::isnan(a.v); }
template <typename T> bool isfinite(const Dual<T>& a) { return std::isfinite(a.v); }
template <typename T> std::ostream& operator<<(std::ostream& os, const Dual<T>& a) { return os << a.v << "+" << a.d << "e"; }

// The value and the tangent parts of a dual matrix.
template <typename T, int R, int C, int O>
Eigen::Matrix<T, R, C, O> value_part(const Eigen::Matrix<Dual<T>, R, C, O>& m) {
  return m.unaryExpr([](const Dual<T>& x) { return x.v; });
}
template <typename T, int R, int C, int O>
Eigen::Matrix<T, R, C, O> tangent_part(const Eigen::Matrix<Dual<T>, R, C, O>& m) {
  return m.unaryExpr([](const Dual<T>& x) { return x.d; });
}

}  // namespace relfm

namespace Eigen {
template <typename T>
struct NumTraits<relfm::Dual<T>> : GenericNumTraits<relfm::Dual<T>> {
  using Real = relfm::Dual<T>;
  using NonInteger = relfm::Dual<T>;
  using Literal = relfm::Dual<T>;
  using Nested = relfm::Dual<T>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2 * NumTraits<T>::ReadCost,
    AddCost = 2 * NumTraits<T>::AddCost,
    MulCost = 3 * NumTraits<T>::MulCost + NumTraits<T>::AddCost
  };
  static inline Real epsilon() { return Real(NumTraits<T>::epsilon()); }
  static inline Real dummy_precision() { return Real(NumTraits<T>::dummy_precision()); }
  static inline Real highest() { return Real(NumTraits<T>::highest()); }
  static inline Real lowest() { return Real(NumTraits<T>::lowest()); }
  static inline int digits10() { return NumTraits<T>::digits10(); }
};
}  // namespace Eigen
