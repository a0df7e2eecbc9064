// Dense k-bit streams (fmtlib.packing.BitStream), one row at a time: element i of a row sits at
// stream bits [i*k, (i+1)*k). lsb: stream bit s is bit s % 8 of byte s / 8 (little-endian);
// msb: element i's top bit comes first, stream bit s is bit 7 - s % 8 of byte s / 8. Rows
// start on a byte; padding bits are zero. A port of the rule in fmtlib/kernels/cpu/packing.py,
// written per byte (pack) and per element (unpack) so every thread writes its own output.
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

FMT_HD uint64_t shifted(uint64_t v, int64_t off) { return off >= 0 ? v << off : v >> -off; }

// Byte j of row ``row`` of the stream of n codes per row (code bits above k are ignored: the
// caller checks the range).
template <typename C>
FMT_HD uint8_t stream_byte(const C* codes, int64_t n, int64_t row, int64_t j, int64_t k, bool msb) {
    uint64_t mask = k >= 64 ? ~0ULL : ((1ULL << k) - 1);
    int64_t first = 8 * j / k, last = (8 * j + 7) / k;
    if (last > n - 1) last = n - 1;
    uint64_t b = 0;
    for (int64_t i = first; i <= last; i++) {
        uint64_t v = (uint64_t)codes[row * n + i] & mask;
        b |= shifted(v, msb ? 8 * (j + 1) - (i + 1) * k : i * k - 8 * j);
    }
    return (uint8_t)(b & 0xFF);
}

// Element i of row ``row`` from its stream of rb bytes per row.
FMT_HD uint64_t stream_code(const uint8_t* buf, int64_t rb, int64_t row, int64_t i, int64_t k, bool msb) {
    uint64_t mask = (1ULL << k) - 1, v = 0;
    for (int64_t j = i * k / 8; j <= (i * k + k - 1) / 8; j++) {
        uint64_t b = buf[row * rb + j];
        v |= shifted(b, msb ? (i + 1) * k - 8 * (j + 1) : 8 * j - i * k);
    }
    return v & mask;
}

}  // namespace fmt
