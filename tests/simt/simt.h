// The SIMT host runner, device side: what nvcc and NVRTC give CUDA device code, for g++.
//
// tests/simt/__init__.py compiles a CUDA source, unchanged, as one C++ file: this header,
// then the source as cupy.RawModule receives it, then a table of the kernels its name
// expressions name. The source is preprocessed as NVRTC sees it (__CUDACC__, __CUDACC_RTC__ and
// __CUDA_ARCH__ are defined, so no host header is included and the device branches are the
// ones compiled); math functions are the C library's exact ones (floor, ceil, frexp, ldexp).
// tests/simt/runtime.cpp runs a launch: every thread of every block, in the order a GPU
// could, with shuffles, __syncthreads and atomics as a GPU has them; it includes only the
// first part of this file (SIMT_RUNTIME defined), the declarations the two sides share.
#pragma once

// --- shared with runtime.cpp: the built-in variables and the scheduler's entry points -----
struct uint3 { unsigned int x, y, z; };
typedef uint3 dim3;
// Set by the scheduler before it resumes a thread.
extern thread_local uint3 simt_thread_idx, simt_block_idx, simt_block_dim, simt_grid_dim;
// A shuffle of ``size`` bytes of ``bits``: op 0 reads lane ``arg`` (__shfl_sync), op 1 lane
// (own lane ^ arg) (__shfl_xor_sync), within segments of ``width`` lanes.
unsigned long long simt_shuffle(unsigned mask, unsigned long long bits, int op, int arg, int width, int size);
void simt_syncthreads();
// Runs a launch: run(args) in every thread of grid x block (3 numbers each) on ``workers`` OS
// threads; 0, or 1 with the first error in err.
int simt_run(void (*run)(void**), const unsigned* grid, const unsigned* block, void** args, int workers, char* err,
             int errlen);

#ifndef SIMT_RUNTIME
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#define __CUDA_ARCH__ 900
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// A block runs on one OS thread at a time (runtime.cpp), so per-thread statics are its
// shared memory: one copy for the block's threads, kept from one block to the next as on a GPU.
#define __shared__ static thread_local
#define threadIdx (static_cast<const uint3&>(simt_thread_idx))
#define blockIdx (static_cast<const uint3&>(simt_block_idx))
#define blockDim (static_cast<const uint3&>(simt_block_dim))
#define gridDim (static_cast<const uint3&>(simt_grid_dim))
static const int warpSize = 32;

// --- intrinsics --------------------------------------------------------------------------
#define SIMT_SHUFFLES(T)                                                                          \
    inline T simt_shuffle_as(unsigned mask, T v, int op, int arg, int width) {                    \
        unsigned long long b = 0;                                                                 \
        __builtin_memcpy(&b, &v, sizeof(T));                                                      \
        b = simt_shuffle(mask, b, op, arg, width, (int)sizeof(T));                                \
        __builtin_memcpy(&v, &b, sizeof(T));                                                      \
        return v;                                                                                 \
    }                                                                                             \
    inline T __shfl_sync(unsigned mask, T v, int src, int width = warpSize) {                     \
        return simt_shuffle_as(mask, v, 0, src, width);                                           \
    }                                                                                             \
    inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {           \
        return simt_shuffle_as(mask, v, 1, lane_mask, width);                                     \
    }
// CUDA's overloads of the shuffles (so integer promotions pick the same one as nvcc)
SIMT_SHUFFLES(int) SIMT_SHUFFLES(unsigned int) SIMT_SHUFFLES(long) SIMT_SHUFFLES(unsigned long)
SIMT_SHUFFLES(long long) SIMT_SHUFFLES(unsigned long long) SIMT_SHUFFLES(float) SIMT_SHUFFLES(double)
#undef SIMT_SHUFFLES

inline void __syncthreads() { simt_syncthreads(); }

// Atomics are the compiler's atomics (relaxed, as CUDA's): blocks run on several OS threads.
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline unsigned int atomicAdd(unsigned int* a, unsigned int v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    return __atomic_fetch_add(a, v, __ATOMIC_RELAXED);
}
// atomicMax by compare-and-swap (g++ has no fetch-max builtin); returns the old value, as CUDA's.
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) {
    unsigned long long old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}

// CUDA's count of leading zeros of a 64-bit integer (64 for 0)
inline int __clzll(long long v) { return v ? __builtin_clzll((unsigned long long)v) : 64; }
// and of a 32-bit one (32 for 0)
inline int __clz(int v) { return v ? __builtin_clz((unsigned)v) : 32; }
inline unsigned int __float_as_uint(float v) { unsigned int u; __builtin_memcpy(&u, &v, 4); return u; }
inline float __uint_as_float(unsigned int u) { float v; __builtin_memcpy(&v, &u, 4); return v; }
inline long long __double_as_longlong(double v) { long long u; __builtin_memcpy(&u, &v, 8); return u; }
inline double __longlong_as_double(long long u) { double v; __builtin_memcpy(&v, &u, 8); return v; }

// CUDA's math functions that the kernels call: exact operations, the same on host and device.
extern "C" {
double floor(double) throw();
double ceil(double) throw();
double frexp(double, int*) throw();
double ldexp(double, int) throw();
float floorf(float) throw();
float ceilf(float) throw();
float frexpf(float, int*) throw();
float ldexpf(float, int) throw();
}
inline float floor(float x) { return floorf(x); }
inline float ceil(float x) { return ceilf(x); }
inline float frexp(float x, int* e) { return frexpf(x, e); }
inline float ldexp(float x, int e) { return ldexpf(x, e); }

// --- the kernel table: name expression, parameter types, and a call from an argument list ---
namespace simt {

// A parameter's type as the launch checks it: "u8" (unsigned, 8 bytes), "i4", "f4", "b1";
// "*u8" a pointer to uint64 elements, "const*u8" a pointer to const ones.
template <typename T> struct Param;
#define SIMT_PARAM(T, code)                                                                       \
    template <> struct Param<T> { static const char* code_() { return code; } };                  \
    template <> struct Param<T*> { static const char* code_() { return "*" code; } };             \
    template <> struct Param<const T*> { static const char* code_() { return "const*" code; } };
SIMT_PARAM(bool, "b1") SIMT_PARAM(signed char, "i1") SIMT_PARAM(unsigned char, "u1") SIMT_PARAM(short, "i2")
SIMT_PARAM(unsigned short, "u2") SIMT_PARAM(int, "i4") SIMT_PARAM(unsigned int, "u4") SIMT_PARAM(long, "i8")
SIMT_PARAM(unsigned long, "u8") SIMT_PARAM(long long, "i8") SIMT_PARAM(unsigned long long, "u8")
SIMT_PARAM(float, "f4") SIMT_PARAM(double, "f8")
#undef SIMT_PARAM
static_assert(sizeof(long) == 8 && sizeof(short) == 2 && sizeof(int) == 4, "an LP64 host");

template <int... I> struct Seq {};
template <int N, int... I> struct MakeSeq : MakeSeq<N - 1, N - 1, I...> {};
template <int... I> struct MakeSeq<0, I...> { typedef Seq<I...> type; };

template <typename F, F kernel> struct Kernel;
template <typename... A, void (*kernel)(A...)> struct Kernel<void (*)(A...), kernel> {
    // The parameter codes, then nullptr.
    static const char* const* params() {
        static const char* const p[] = {Param<A>::code_()..., nullptr};
        return p;
    }
    // The kernel called with args[i] pointing to the i-th argument's value (cuLaunchKernel's
    // kernelParams).
    template <int... I> static void call(void** args, Seq<I...>) { kernel(*static_cast<A*>(args[I])...); }
    static void run(void** args) { call(args, typename MakeSeq<sizeof...(A)>::type()); }
};

struct Entry {
    const char* name;
    const char* const* params;
    void (*run)(void** args);
};

}  // namespace simt

// The table entry of kernel ``name``, the name expression also given as code
// (SIMT_ENTRY("fmt_convert<uint8_t, uint16_t>", fmt_convert<uint8_t, uint16_t>)).
#define SIMT_ENTRY(name, ...)                                                                     \
    {name, simt::Kernel<decltype(&__VA_ARGS__), &__VA_ARGS__>::params(),                          \
     &simt::Kernel<decltype(&__VA_ARGS__), &__VA_ARGS__>::run}

// The module's C interface for ctypes, over its table ``entries`` (tests/simt/__init__.py).
#define SIMT_EXPORT extern "C" __attribute__((visibility("default")))
#define SIMT_MODULE(entries)                                                                      \
    SIMT_EXPORT int simt_count() { return (int)(sizeof(entries) / sizeof(entries[0])); }          \
    SIMT_EXPORT const simt::Entry* simt_entry(int i) { return &entries[i]; }                      \
    SIMT_EXPORT int simt_launch(int i, const unsigned* grid, const unsigned* block, void** args, int workers, \
                                char* err, int errlen) {                                          \
        return simt_run(entries[i].run, grid, block, args, workers, err, errlen);                 \
    }
#endif  // SIMT_RUNTIME
