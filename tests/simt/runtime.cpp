// The SIMT host runner, scheduler side: runs a kernel launch on the CPU the way a GPU does.
//
// Every thread of every block runs, with its threadIdx, blockIdx, blockDim and gridDim.
// Blocks go to a few OS threads (so atomics meet real concurrency). Within a block, CUDA
// threads run on fibers, in order: a fiber runs one thread after another until one waits at a
// shuffle or __syncthreads; that thread keeps the fiber, and the next thread starts on another.
// When every thread has finished or waits, the block's scheduler completes what can complete
// and resumes those threads, in order:
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
// is not a power of 2 up to 32 fail at once; a read of a lane the mask leaves out, when the
// shuffle completes.
//
// Why fibers rather than an OS thread per CUDA thread meeting at barriers: a block's threads
// switch only where CUDA makes them wait for each other, in the same order on every run, so a
// failure reproduces, and the errors above are found by looking at every thread's state when
// none can go on rather than by a timeout; a launch of thousands of CUDA threads needs no more
// OS threads than workers. A fiber is made once (makecontext) and switched with _setjmp and
// _longjmp, which save no signal mask: no system call per switch.
#define SIMT_RUNTIME
#undef _FORTIFY_SOURCE   // its longjmp check refuses a jump to another stack, which is the point here
#include <setjmp.h>
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

struct Fiber {
    jmp_buf ctx;                      // where it stopped
    int thread;                       // the CUDA thread it runs, or -1: idle
};

struct Thread {
    State state;
    Fiber* fiber;                     // null: not started
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

const size_t STACK = 256 << 10;       // per fiber; the lowest page is a guard page

// What an OS thread runs: the current block's CUDA threads and the fibers they run on.
struct Block {
    Launch* launch;
    std::vector<Thread> threads;
    std::vector<Fiber> fibers;        // made as needed, kept from block to block
    int nfibers = 0;
    char* stacks;
    int cur;                          // the running thread
    int next;                         // the next thread to start
    Fiber* running;
    jmp_buf scheduler;
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

void set_thread(Block& b, int t) {
    const uint3& d = b.launch->block;
    b.cur = t;
    simt_thread_idx = {(unsigned)t % d.x, (unsigned)t / d.x % d.y, (unsigned)t / (d.x * d.y)};
}

// Fiber -> scheduler; returns when the scheduler resumes the fiber.
void leave(Block& b) {
    if (!_setjmp(b.running->ctx)) _longjmp(b.scheduler, 1);
}

// Scheduler -> fiber f; returns when a fiber leaves.
void enter(Block& b, Fiber* f) {
    b.running = f;
    if (!_setjmp(b.scheduler)) _longjmp(f->ctx, 1);
}

// A fiber's life: the block's next threads, one after another, until one waits (it keeps the
// fiber) or none is left (the fiber idles until a later block needs it).
void fiber_main() {
    Block& b = *current;
    Fiber* f = b.running;
    for (;;) {
        while (b.next < (int)b.threads.size()) {
            const int t = b.next++;
            f->thread = t;
            b.threads[t].fiber = f;
            set_thread(b, t);
            b.launch->run(b.launch->args);
            b.threads[t].state = DONE;
        }
        f->thread = -1;
        leave(b);
    }
}

// Scheduler: a new fiber on stack i, entered (runs threads from b.next).
void start_fiber(Block& b) {
    Fiber* f = &b.fibers[b.nfibers];
    char* stack = b.stacks + (size_t)b.nfibers++ * STACK;
    mprotect(stack, 4096, PROT_NONE);
    ucontext_t uc, here;
    getcontext(&uc);
    uc.uc_stack.ss_sp = stack;
    uc.uc_stack.ss_size = STACK;
    uc.uc_link = nullptr;             // fiber_main never returns
    makecontext(&uc, fiber_main, 0);
    b.running = f;
    if (!_setjmp(b.scheduler)) swapcontext(&here, &uc);   // ``here`` is never resumed: the fiber leaves by _longjmp
}

// The running thread stops for good with an error (its fiber is never resumed).
[[noreturn]] void abort_thread(const std::string& what) {
    Block& b = *current;
    b.error = where(b, b.cur) + what;
    b.threads[b.cur].state = DONE;
    leave(b);
    __builtin_unreachable();
}

void wait(State s) {
    Block& b = *current;
    b.threads[b.cur].state = s;
    leave(b);
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
                return where(b, t) + format("shuffle mask 0x%08x names lane %d, past the block's last thread",
                                            s.mask, k);
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
        if (b.threads[t].state == DONE)
            return where(b, t) + "exited while other threads of its block wait at __syncthreads";
    return "no thread can go on";
}

// Runs block ``id`` (linear) to the end; false with b.error set on an error.
bool run_block(Block& b, long long id) {
    const Launch& L = *b.launch;
    simt_block_idx = {(unsigned)(id % L.grid.x), (unsigned)(id / L.grid.x % L.grid.y),
                      (unsigned)(id / ((long long)L.grid.x * L.grid.y))};
    const int n = (int)b.threads.size();
    for (Thread& s : b.threads) s.state = READY, s.fiber = nullptr;
    b.next = 0;
    for (int idle = 0; b.next < n;) {   // start every thread: on idle fibers, then on new ones
        while (idle < b.nfibers && b.fibers[idle].thread != -1) idle++;
        if (idle < b.nfibers)
            enter(b, &b.fibers[idle]);
        else
            start_fiber(b);
        if (!b.error.empty()) return false;
    }
    for (;;) {
        int done = 0, barrier = 0;
        for (const Thread& s : b.threads) done += s.state == DONE, barrier += s.state == BARRIER;
        if (done == n) return true;
        const int released = complete_shuffles(b);
        if (released < 0) return false;
        if (released == 0 && barrier == n)   // every thread at __syncthreads
            for (Thread& s : b.threads) s.state = READY;
        else if (released == 0) {
            b.error = stuck(b);             // on a GPU: a hang, or undefined values
            return false;
        }
        for (int t = 0; t < n; t++) {      // every thread released, to its next wait or its end
            if (b.threads[t].state != READY) continue;
            set_thread(b, t);
            enter(b, b.threads[t].fiber);
            if (!b.error.empty()) return false;
        }
    }
}

// One OS thread: blocks from the launch's counter until none is left or one fails.
void worker(Launch* L) {
    const long long nblocks = (long long)L->grid.x * L->grid.y * L->grid.z;
    const int n = (int)(L->block.x * L->block.y * L->block.z);
    Block b;
    b.launch = L;
    b.threads.resize(n);
    b.fibers.resize(n);
    b.stacks = (char*)mmap(nullptr, (size_t)n * STACK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b.stacks == MAP_FAILED) {
        L->fail("cannot map the fibers' stacks");
        return;
    }
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
