#include "eventlog/fast_chain_hash.h"

#include <sodium.h>

#include <cstring>

#include "eventlog/keys.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define REFX_HAVE_SHA_NI 1
#endif

namespace refx::eventlog {

namespace {

void PortableChainHash(std::string_view prev_hash, uint64_t seq, std::string_view bytes, unsigned char* out) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(prev_hash.data()), prev_hash.size());
  unsigned char seq_bytes[8];
  for (int i = 7; i >= 0; --i) {
    seq_bytes[i] = static_cast<unsigned char>(seq & 0xff);
    seq >>= 8;
  }
  crypto_hash_sha256_update(&st, seq_bytes, sizeof seq_bytes);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  crypto_hash_sha256_final(&st, out);
}

#ifdef REFX_HAVE_SHA_NI

alignas(16) const uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Compresses `blocks` 64-byte blocks into state (the FIPS 180-4 order a..h).
__attribute__((target("sha,sse4.1,ssse3"))) void CompressShaNi(uint32_t state[8], const unsigned char* data,
                                                               size_t blocks) {
  const __m128i kShuffle = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[0]));
  __m128i state1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[4]));
  tmp = _mm_shuffle_epi32(tmp, 0xB1);             // CDAB
  state1 = _mm_shuffle_epi32(state1, 0x1B);       // EFGH
  __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);  // ABEF
  state1 = _mm_blend_epi16(state1, tmp, 0xF0);    // CDGH

  for (; blocks > 0; --blocks, data += 64) {
    const __m128i abef_save = state0;
    const __m128i cdgh_save = state1;
    __m128i w[4];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i < 4) {
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), kShuffle);
      }
      __m128i msg = _mm_add_epi32(w[i & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(&kRound[4 * i])));
      state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
      if (i >= 3 && i <= 14) {
        const __m128i t = _mm_alignr_epi8(w[i & 3], w[(i + 3) & 3], 4);
        w[(i + 1) & 3] = _mm_add_epi32(w[(i + 1) & 3], t);
        w[(i + 1) & 3] = _mm_sha256msg2_epu32(w[(i + 1) & 3], w[i & 3]);
      }
      msg = _mm_shuffle_epi32(msg, 0x0E);
      state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
      if (i >= 1 && i <= 12) w[(i + 3) & 3] = _mm_sha256msg1_epu32(w[(i + 3) & 3], w[i & 3]);
    }
    state0 = _mm_add_epi32(state0, abef_save);
    state1 = _mm_add_epi32(state1, cdgh_save);
  }

  tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
  state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
  state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
  state1 = _mm_alignr_epi8(state1, tmp, 8);     // ABEF
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[0]), state0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[4]), state1);
}

void ShaNiChainHash(std::string_view prev_hash, uint64_t seq, std::string_view bytes, unsigned char* out) {
  uint32_t state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  alignas(16) unsigned char block[128];
  const uint64_t total = prev_hash.size() + 8 + bytes.size();
  // The head: prev hash and seq, then as much of the event as fits.
  size_t fill = 0;
  const unsigned char* data = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t left = bytes.size();
  auto append = [&](const unsigned char* p, size_t n) {
    while (n > 0) {
      const size_t take = n < 64 - fill ? n : 64 - fill;
      std::memcpy(block + fill, p, take);
      fill += take;
      p += take;
      n -= take;
      if (fill == 64) {
        CompressShaNi(state, block, 1);
        fill = 0;
      }
    }
  };
  append(reinterpret_cast<const unsigned char*>(prev_hash.data()), prev_hash.size());
  unsigned char seq_bytes[8];
  for (int i = 7; i >= 0; --i) {
    seq_bytes[i] = static_cast<unsigned char>(seq & 0xff);
    seq >>= 8;
  }
  append(seq_bytes, 8);
  if (fill != 0) {
    const size_t take = left < 64 - fill ? left : 64 - fill;
    append(data, take);
    data += take;
    left -= take;
  }
  // Whole blocks straight from the event bytes.
  if (fill == 0 && left >= 64) {
    const size_t blocks = left / 64;
    CompressShaNi(state, data, blocks);
    data += blocks * 64;
    left -= blocks * 64;
  }
  std::memcpy(block + fill, data, left);
  fill += left;
  // Padding: 0x80, zeros, then the bit length big-endian in the last 8 bytes.
  block[fill++] = 0x80;
  const size_t end = fill <= 56 ? 64 : 128;
  std::memset(block + fill, 0, end - fill);
  const uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) block[end - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  CompressShaNi(state, block, end / 64);
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<unsigned char>(state[i] >> 24);
    out[4 * i + 1] = static_cast<unsigned char>(state[i] >> 16);
    out[4 * i + 2] = static_cast<unsigned char>(state[i] >> 8);
    out[4 * i + 3] = static_cast<unsigned char>(state[i]);
  }
}

bool CpuHasShaNi() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = (c & (1u << 9)) != 0;
  const bool sse41 = (c & (1u << 19)) != 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = (b & (1u << 29)) != 0;
  return ssse3 && sse41 && sha;
}

#endif  // REFX_HAVE_SHA_NI

}  // namespace

bool ChainHashAccelerated() {
#ifdef REFX_HAVE_SHA_NI
  static const bool has = CpuHasShaNi();
  return has;
#else
  return false;
#endif
}

void ChainHashInto(std::string_view prev_hash, uint64_t seq, std::string_view stored_bytes, unsigned char* out) {
#ifdef REFX_HAVE_SHA_NI
  if (ChainHashAccelerated()) return ShaNiChainHash(prev_hash, seq, stored_bytes, out);
#endif
  PortableChainHash(prev_hash, seq, stored_bytes, out);
}

}  // namespace refx::eventlog
