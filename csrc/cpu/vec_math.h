// Branch-free float exp and log for the CPU kernel's row loops: written so that GCC vectorises them (scalar
// libm calls do not vectorise, and dominate the per-pixel cost). Cephes-style range reduction and minimax
// polynomials, accurate to a few ulp on the ranges used here: exp on (-inf, 0], log on normal positive floats.
#pragma once
#include <cstdint>
#include <cstring>

namespace dwaca {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// a * b + c; kFma = true only inside functions compiled for an FMA target, where it is one vfmadd (elsewhere
// __builtin_fmaf would be a libm call, which does not vectorise).
template <bool kFma>
inline float madd(float a, float b, float c) {
  if constexpr (kFma) return __builtin_fmaf(a, b, c);
  return a * b + c;
}

// exp(x) for x <= 0; x below -87 gives exp(-87) ~ 1.6e-38 instead of a denormal or 0.
template <bool kFma>
inline float exp_nonpos(float x) {
  x = x < -87.f ? -87.f : x;
  const float t = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(t);
  n -= (t < static_cast<float>(n)) ? 1 : 0;  // floor(t) for negative t
  const float fn = static_cast<float>(n);
  float r = madd<kFma>(fn, -0.693359375f, x);
  r = madd<kFma>(fn, 2.12194440e-4f, r);
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = madd<kFma>(y, r, 1.3981999507e-3f);
  y = madd<kFma>(y, r, 8.3334519073e-3f);
  y = madd<kFma>(y, r, 4.1665795894e-2f);
  y = madd<kFma>(y, r, 1.6666665459e-1f);
  y = madd<kFma>(y, r, 5.0000001201e-1f);
  y = madd<kFma>(y, z, r) + 1.f;
  return y * bits_to_float((n + 127) << 23);
}

// log(x) for normal x > 0.
template <bool kFma>
inline float log_pos(float x) {
  const int32_t bits = float_to_bits(x);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // x = m * 2^e, m in [0.5, 1)
  const bool low = m < 0.707106781186547524f;
  e -= low ? 1 : 0;
  m = low ? (m + m - 1.f) : (m - 1.f);
  const float fe = static_cast<float>(e);
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = madd<kFma>(y, m, -1.1514610310e-1f);
  y = madd<kFma>(y, m, 1.1676998740e-1f);
  y = madd<kFma>(y, m, -1.2420140846e-1f);
  y = madd<kFma>(y, m, 1.4249322787e-1f);
  y = madd<kFma>(y, m, -1.6668057665e-1f);
  y = madd<kFma>(y, m, 2.0000714765e-1f);
  y = madd<kFma>(y, m, -2.4999993993e-1f);
  y = madd<kFma>(y, m, 3.3333331174e-1f);
  y = y * m * z;
  y = madd<kFma>(fe, -2.12194440e-4f, y);
  y = madd<kFma>(-0.5f, z, y);
  return madd<kFma>(fe, 0.693359375f, m + y);
}

}  // namespace dwaca
