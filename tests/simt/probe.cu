// Kernels that exercise the SIMT runner itself (tests/test_simt.py), including launches that
// would hang or read undefined values on a GPU, which the runner must report.

// The built-in variables of every thread: 12 numbers at its linear index in the grid.
extern "C" __global__ void probe_ids(unsigned* out) {
    const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned* o = out + 12 * (b * blockDim.x * blockDim.y * blockDim.z + t);
    const uint3 v[4] = {threadIdx, blockIdx, blockDim, gridDim};
    for (int k = 0; k < 4; k++) o[3 * k] = v[k].x, o[3 * k + 1] = v[k].y, o[3 * k + 2] = v[k].z;
}

// What the kernels' preprocessor sees: __CUDA_ARCH__, __CUDACC_RTC__, warpSize.
extern "C" __global__ void probe_arch(int* out) {
#if defined(__CUDA_ARCH__) && defined(__CUDACC_RTC__)
    out[0] = __CUDA_ARCH__;
    out[1] = warpSize;
#endif
}

// out[i] = in[i] of the lane a full-warp shuffle reads: op 0 __shfl_sync(src = arg), op 1
// __shfl_xor_sync(lane mask = arg), in segments of ``width`` lanes.
template <typename T>
__global__ void probe_shuffle(const T* in, T* out, int op, int arg, int width) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = op ? __shfl_xor_sync(0xffffffffu, in[i], arg, width) : __shfl_sync(0xffffffffu, in[i], arg, width);
}
template __global__ void probe_shuffle<int>(const int*, int*, int, int, int);
template __global__ void probe_shuffle<unsigned long long>(const unsigned long long*, unsigned long long*, int, int,
                                                           int);
template __global__ void probe_shuffle<float>(const float*, float*, int, int, int);
template __global__ void probe_shuffle<double>(const double*, double*, int, int, int);

// Shuffles with partial masks, case by case (one warp; out[lane]); cases 1 to 6 are errors, 7
// is lanes reaching a full-warp shuffle at different times.
extern "C" __global__ void probe_masks(int* out, int which) {
    const int lane = threadIdx.x & 31, low = lane < 16;
    const unsigned half = low ? 0x0000ffffu : 0xffff0000u;
    int v = lane;
    switch (which) {
    case 0: v = __shfl_xor_sync(half, v, 1); break;                       // two half-warp groups
    case 1: if (lane == 5) v = __shfl_xor_sync(0x0000000fu, v, 1); break;   // a mask without the caller
    case 2: if (lane != 31) v = __shfl_xor_sync(0xffffffffu, v, 1); break;  // lane 31 has exited
    case 3: v = low ? __shfl_sync(0xffffffffu, v, 0) : __shfl_xor_sync(0xffffffffu, v, 1); break;   // two shuffles
    case 4: if (low) v = __shfl_sync(0x0000ffffu, v, 20); break;           // reads lane 20, not in the mask
    case 5: v = __shfl_xor_sync(0xffffffffu, v, 1); break;                  // (launched with 48 threads)
    case 6: if (low) v = __shfl_xor_sync(0xffffffffu, v, 1); else __syncthreads(); break;
    case 7:
        if (low) v = __shfl_xor_sync(0x0000ffffu, v, 1);   // the low half first meets by itself
        v = __shfl_xor_sync(0xffffffffu, v, 16);
        break;
    }
    out[threadIdx.x] = v;
}

// out[block] = the sum of in over the block, by a tree in shared memory with __syncthreads.
extern "C" __global__ void probe_block_sum(const int* in, int* out) {
    __shared__ int s[1024];
    const int t = threadIdx.x;
    s[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (int d = blockDim.x / 2; d > 0; d /= 2) {
        if (t < d) s[t] += s[t + d];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

// A thread leaves before a __syncthreads the others reach: an error.
extern "C" __global__ void probe_early_exit(int* out) {
    if (threadIdx.x == 3) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

// Every thread adds 1 to counters of each atomicAdd overload; old[i]: what it saw in the first.
extern "C" __global__ void probe_atomics(unsigned long long* c64, unsigned* c32, int* ci, unsigned long long* old) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    old[i] = atomicAdd(c64, 1ULL);
    atomicAdd(c32, 1u);
    atomicAdd(ci, -1);
}

// Every thread raises m to its own value v[i] (atomicMax); old[i]: what it saw.
extern "C" __global__ void probe_atomic_max(const unsigned long long* v, unsigned long long* m,
                                            unsigned long long* old) {
    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    old[i] = atomicMax(m, v[i]);
}

// A signature to launch wrongly.
extern "C" __global__ void probe_params(const float* a, unsigned char* b, int n, unsigned long long k, double d) {}
