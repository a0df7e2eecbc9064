// Device-only helpers for kernels that give each block of elements a group of lanes: lanes
// read consecutive elements, then combine their amax keys (order-preserving integers, see
// value_key) with shuffles. Launch a multiple of 32 threads per thread block.
#pragma once
#include "fmt_scalar.cuh"

namespace fmt {

// The largest k among the ``lanes`` lanes (32 or 16) of this lane's group, in each of them.
// Every lane of the warp must call it.
template <typename K>
__device__ __forceinline__ K group_max(K k, int lanes) {
    for (int d = lanes >> 1; d > 0; d >>= 1) {
        K o = __shfl_xor_sync(0xffffffffu, k, d);
        k = o > k ? o : k;
    }
    return k;
}

// Blocks for groups of ``lanes`` lanes (32 or 16): a warp takes blocks base + g for its groups g,
// then base += stride. ``base`` is the same in every lane of a warp, so a loop on it keeps the
// warp together for group_max (a group past the last block takes part with key 0).
__device__ __forceinline__ void group_blocks(int lanes, long long& base, int& g, long long& stride) {
    const long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    base = (gid >> 5) * (32 / lanes);
    g = (threadIdx.x & 31) / lanes;
    stride = ((long long)gridDim.x * blockDim.x) / lanes;
}

}  // namespace fmt
