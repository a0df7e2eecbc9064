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

// Every block of rows of ncols elements, LANES lanes (32 or 16) to a block: a warp takes blocks
// base + g for its groups g, then base += stride. Lanes read consecutive elements; key(i) of
// each element is combined by max (``KeyT``: an unsigned integer), and body(t, start, end,
// lane, kmax) runs for each block with the block's largest key in every lane of its group.
// ``base`` is the same in every lane of a warp, so the warp stays together for group_max (a
// group past the last block takes part with key 0 and runs no body).
template <int LANES, typename KeyT, typename KeyF, typename BodyF>
__device__ __forceinline__ void for_each_block(long long nblocks, long long ncols, long long block, KeyF key,
                                               BodyF body) {
    const long long gid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    const int lane = threadIdx.x & (LANES - 1), g = (threadIdx.x & 31) / LANES;
    const long long stride = ((long long)gridDim.x * blockDim.x) / LANES;
    for (long long base = (gid >> 5) * (32 / LANES); base < nblocks; base += stride) {
        const long long t = base + g;
        int64_t start = 0, end = 0;
        if (t < nblocks) block_span(t, ncols, block, start, end);
        KeyT k = group_max(max_key<KeyT>(start + lane, end, LANES, key), LANES);
        if (t < nblocks) body(t, start, end, lane, k);
    }
}

}  // namespace fmt
