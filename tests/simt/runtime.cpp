// The SIMT host runner, scheduler side: runs a kernel launch on the CPU the way a GPU does.
//
// Every thread of every block runs, with its threadIdx, blockIdx, blockDim and gridDim.
// Blocks go to a few OS threads (so atomics meet real concurrency); within a block, each CUDA
// thread is a fiber (ucontext) on that OS thread's stack pool. A fiber runs until it finishes or
// reaches a shuffle or __syncthreads, then hands back to the block's scheduler, which runs the
// other threads and then completes what can complete:
//
// - a shuffle completes when every lane its mask names waits in a shuffle with the same mask,
//   op, width and size (lanes may get there in any order, as since Volta); each lane then
//   reads its source lane (PTX shfl.sync idx or bfly in segments of ``width`` lanes; an xor
//   past the segment reads its own value).
// - __syncthreads completes when every thread of the block waits there.
//
// When no thread can go on, the launch fails and says why (on a GPU: a hang or undefined
// values): a lane a mask names has exited, waits at __syncthreads, waits in another shuffle or
// is past the block's last thread; or a thread exited while others wait at __syncthreads
// (CUDA: its condition must be the same block-wide). A lane not in its own mask, a width that
// is not a power of 2 up to 32, and a read of a lane the mask leaves out fail at once.
//
// Why fibers rather than an OS thread per CUDA thread meeting at barriers: a block's threads
// switch only where CUDA makes them wait for each other, in the same order on every run, so a
// failure reproduces and the errors above are found by looking at every thread's state at a
// switch rather than by a timeout; and a launch of thousands of threads costs thousands of
// context switches, not thousands of OS threads.
#define SIMT_RUNTIME
#include <sys/mman.h>
#include <ucontext.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "simt.h"

thread_local uint3 simt_thread_idx, simt_block_idx, simt_block_dim, simt_grid_dim;

namespace {

enum State { READY, SHUFFLE, BARRIER, DONE };

struct Thread {
    ucontext_t ctx;
    State state;
    unsigned mask;                    // the shuffle it waits in: mask, op, arg, width, size
    int op, arg, width, size;
    unsigned long long value, result;
};

struct Launch {
    void (*run)(void**);
    void** args;
    uint3 grid, block;
    std::atomic<long long> next{0};   // the next block to run
    std::atomic<bool> failed{false};
    std::mutex lock;
    std::string error;

    void fail(const std::string& e) {
        std::lock_guard<std::mutex> g(lock);
        if (!failed.exchange(true)) error = e;
    }
};

const size_t STACK = 256 << 10;       // per CUDA thread; the lowest page is a guard page

// The block an OS thread runs: its CUDA threads and their stacks.
struct Block {
    Launch* launch;
    std::vector<Thread> threads;
    char* stacks;
    int cur;                          // the running thread
    ucontext_t scheduler;
    std::string error;
};

thread_local Block* current = nullptr;

std::string format(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// "block (x, y, z) thread t": where an error happened.
std::string where(const Block& b, int t) {
    return format("block (%u, %u, %u) thread %d (warp %d, lane %d): ", simt_block_idx.x, simt_block_idx.y,
                  simt_block_idx.z, t, t / 32, t % 32);
}

// The running thread stops for good with an error (its fiber is never resumed).
[[noreturn]] void abort_thread(const std::string& what) {
    Block* b = current;
    b->error = where(*b, b->cur) + what;
    b->threads[b->cur].state = DONE;
    swapcontext(&b->threads[b->cur].ctx, &b->scheduler);
    __builtin_unreachable();
}

void wait(State s) {
    Block* b = current;
    b->threads[b->cur].state = s;
    swapcontext(&b->threads[b->cur].ctx, &b->scheduler);
}

void thread_main() {
    Block* b = current;
    b->launch->run(b->launch->args);
    b->threads[b->cur].state = DONE;   // returns to uc_link: the scheduler
}

// The lane a lane reads in a shuffle (PTX shfl.sync with c = ((32 - width) << 8) | 31).
int source_lane(int lane, int op, int arg, int width) {
    const int seg = 32 - width, lo = lane & seg, hi = lo | (31 & ~seg);
    if (op == 0) return lo | (arg & ~seg & 31);
    const int j = lane ^ (arg & 31);
    return j <= hi ? j : lane;
}

// Whether thread o waits in the same shuffle as s.
bool same_shuffle(const Thread& s, const Thread& o) {
    return o.state == SHUFFLE && o.mask == s.mask && o.op == s.op && o.width == s.width && o.size == s.size;
}

// Completes every shuffle whose lanes have all arrived; the number of threads released, or -1
// with b.error set (a lane reads one the mask leaves out).
int complete_shuffles(Block& b) {
    const int n = (int)b.threads.size();
    int released = 0;
    for (int t = 0; t < n; t++) {
        const Thread& s = b.threads[t];
        const int w = t & ~31;
        bool all = s.state == SHUFFLE;
        for (int k = 0; all && k < 32; k++)
            all = !(s.mask >> k & 1) || (w + k < n && same_shuffle(s, b.threads[w + k]));
        if (!all) continue;
        const unsigned mask = s.mask;
        for (int k = 0; k < 32; k++) {
            if (!(mask >> k & 1)) continue;
            Thread& o = b.threads[w + k];
            const int j = source_lane(k, o.op, o.arg, o.width);
            if (!(mask >> j & 1)) {
                b.error = where(b, w + k) + format("shuffle reads lane %d, which mask 0x%08x leaves out", j, mask);
                return -1;
            }
            o.result = b.threads[w + j].value;
        }
        for (int k = 0; k < 32; k++)
            if (mask >> k & 1) b.threads[w + k].state = READY, released++;
    }
    return released;
}

// Why no thread of the block can go on (every one has exited or waits): the first waiting
// thread and what it waits for.
std::string stuck(const Block& b) {
    const int n = (int)b.threads.size();
    for (int t = 0; t < n; t++) {
        const Thread& s = b.threads[t];
        if (s.state != SHUFFLE) continue;
        const int w = t & ~31;
        for (int k = 0; k < 32; k++) {
            if (!(s.mask >> k & 1)) continue;
            if (w + k >= n)
                return where(b, t) + format("shuffle mask 0x%08x names lane %d, past the block's last thread", s.mask, k);
            const Thread& o = b.threads[w + k];
            if (o.state == DONE || o.state == BARRIER)
                return where(b, t) + format("shuffle mask 0x%08x names lane %d, which %s", s.mask, k,
                                            o.state == DONE ? "has exited" : "waits at __syncthreads");
            if (!same_shuffle(s, o))
                return where(b, t) + format("lane %d waits in another shuffle (mask 0x%08x, op %d, width %d, %d bytes; "
                                            "this one: 0x%08x, %d, %d, %d)", k, o.mask, o.op, o.width, o.size, s.mask,
                                            s.op, s.width, s.size);
        }
    }
    for (int t = 0; t < n; t++)
        if (b.threads[t].state == DONE) return where(b, t) + "exited while other threads of its block wait at __syncthreads";
    return "no thread can go on";
}

// Runs block ``id`` (linear) to the end; false with b.error set on an error.
bool run_block(Block& b, long long id) {
    const Launch& L = *b.launch;
    simt_block_idx = {(unsigned)(id % L.grid.x), (unsigned)(id / L.grid.x % L.grid.y),
                      (unsigned)(id / ((long long)L.grid.x * L.grid.y))};
    const int n = (int)b.threads.size();
    for (int t = 0; t < n; t++) {
        Thread& s = b.threads[t];
        getcontext(&s.ctx);
        s.ctx.uc_stack.ss_sp = b.stacks + (size_t)t * STACK;
        s.ctx.uc_stack.ss_size = STACK;
        s.ctx.uc_link = &b.scheduler;
        makecontext(&s.ctx, thread_main, 0);
        s.state = READY;
    }
    for (;;) {
        for (int t = 0; t < n; t++) {   // every thread that can go on, to its next wait or its end
            if (b.threads[t].state != READY) continue;
            b.cur = t;
            simt_thread_idx = {(unsigned)t % L.block.x, (unsigned)t / L.block.x % L.block.y,
                               (unsigned)t / (L.block.x * L.block.y)};
            swapcontext(&b.scheduler, &b.threads[t].ctx);
            if (!b.error.empty()) return false;
        }
        int done = 0, barrier = 0;
        for (const Thread& s : b.threads) done += s.state == DONE, barrier += s.state == BARRIER;
        if (done == n) return true;
        const int released = complete_shuffles(b);
        if (released < 0) return false;
        if (released > 0) continue;
        if (barrier == n) {             // every thread at __syncthreads
            for (Thread& s : b.threads) s.state = READY;
            continue;
        }
        b.error = stuck(b);             // on a GPU: a hang, or undefined values
        return false;
    }
}

// One OS thread: blocks from the launch's counter until none is left or one fails.
void worker(Launch* L) {
    const long long nblocks = (long long)L->grid.x * L->grid.y * L->grid.z;
    const int n = (int)(L->block.x * L->block.y * L->block.z);
    Block b;
    b.launch = L;
    b.threads.resize(n);
    b.stacks = (char*)mmap(nullptr, (size_t)n * STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
    if (b.stacks == MAP_FAILED) {
        L->fail("cannot map the threads' stacks");
        return;
    }
    for (int t = 0; t < n; t++) mprotect(b.stacks + (size_t)t * STACK, 4096, PROT_NONE);
    current = &b;
    simt_block_dim = L->block;
    simt_grid_dim = L->grid;
    for (long long id; !L->failed && (id = L->next++) < nblocks;)
        if (!run_block(b, id)) L->fail(b.error);
    current = nullptr;
    munmap(b.stacks, (size_t)n * STACK);
}

}  // namespace

unsigned long long simt_shuffle(unsigned mask, unsigned long long bits, int op, int arg, int width, int size) {
    Block* b = current;
    const int lane = b->cur & 31;
    if (!(mask >> lane & 1)) abort_thread(format("shuffle with mask 0x%08x, which leaves out its own lane", mask));
    if (width < 1 || width > 32 || (width & (width - 1)))
        abort_thread(format("shuffle width %d is not a power of 2 up to 32", width));
    Thread& s = b->threads[b->cur];
    s.mask = mask, s.op = op, s.arg = arg, s.width = width, s.size = size, s.value = bits;
    wait(SHUFFLE);
    return s.result;
}

void simt_syncthreads() { wait(BARRIER); }

int simt_run(void (*run)(void**), const unsigned* grid, const unsigned* block, void** args, int workers, char* err,
             int errlen) {
    Launch L;
    L.run = run, L.args = args;
    L.grid = {grid[0], grid[1], grid[2]};
    L.block = {block[0], block[1], block[2]};
    const unsigned long long threads = (unsigned long long)block[0] * block[1] * block[2];
    // cudaErrorInvalidConfiguration, as a GPU of compute capability 9.0 and 10.0 has it
    if (!threads || threads > 1024 || block[2] > 64 || !grid[0] || grid[0] > 0x7FFFFFFFu || !grid[1] ||
        grid[1] > 65535 || !grid[2] || grid[2] > 65535) {
        snprintf(err, errlen, "invalid launch configuration: grid (%u, %u, %u), block (%u, %u, %u)", grid[0], grid[1],
                 grid[2], block[0], block[1], block[2]);
        return 1;
    }
    const long long nblocks = (long long)grid[0] * grid[1] * grid[2];
    const int nw = (int)(workers < nblocks ? workers : nblocks);
    std::vector<std::thread> pool;
    for (int i = 1; i < nw; i++) pool.emplace_back(worker, &L);
    worker(&L);
    for (std::thread& t : pool) t.join();
    if (!L.failed) return 0;
    snprintf(err, errlen, "%s", L.error.c_str());
    return 1;
}
