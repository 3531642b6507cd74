// A small persistent thread pool (pc_kernels.h, pc_pool_*): the runtime's parallel regions.
//
// Why not Dispatch's concurrentPerform: an int8 ViT-B/32 forward pass opens ~60 parallel regions
// of 50-300 µs each. concurrentPerform wakes its helper thread for each, and after the short
// serial steps between regions (LayerNorm, quantization) the helper often starts late: two
// threads ran the forward pass barely faster than one. Here the workers stay awake, spinning on
// one atomic word, for PC_POOL_SPIN_NS after their last job, so a forward pass hands them work
// within a cache-line transfer; then they sleep on a condition variable and cost nothing.
//
// A job is `parts` calls fn(ctx, part); the caller takes part too. Parts are claimed from one
// atomic word that also carries the job's generation and size, so a worker that wakes late can
// never claim a part of a newer job by mistake, and it reads fn/ctx only after claiming a part
// the caller is still waiting for.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // clock_gettime and sched_yield under -std=c11
#endif
#include "pc_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PC_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define PC_RELAX() __asm__ __volatile__("yield")
#else
#define PC_RELAX() ((void)0)
#endif

// How long an idle worker spins before sleeping: longer than any serial step inside a forward
// pass (the longest, patchify + embedding of a batch of 8, is well under 1 ms), short enough that
// an idle process burns a negligible amount of CPU after each pass.
#define PC_POOL_SPIN_NS 2000000LL

// The claim word: generation (24 bits) | parts (20 bits) | next part (20 bits).
#define PC_PARTS_BITS 20
#define PC_PARTS_MAX ((1 << PC_PARTS_BITS) - 1)

struct pc_pool {
    int workers;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t claim;
    _Atomic int64_t done;
    _Atomic int sleepers;
    _Atomic int stop;
    _Atomic int busy;
    pc_pool_fn fn;
    void *ctx;
};

static uint64_t pc_claim_gen(uint64_t c) { return c >> (2 * PC_PARTS_BITS); }
static int64_t pc_claim_parts(uint64_t c) { return (int64_t)((c >> PC_PARTS_BITS) & PC_PARTS_MAX); }
static int64_t pc_claim_next(uint64_t c) { return (int64_t)(c & PC_PARTS_MAX); }

static int64_t pc_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Claims and runs parts of job `gen` until none is left.
static void pc_pool_work(pc_pool *p, uint64_t gen) {
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if (pc_claim_gen(c) != gen || pc_claim_next(c) >= pc_claim_parts(c)) return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        p->fn(p->ctx, pc_claim_next(c));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *pc_pool_main(void *arg) {
    pc_pool *p = arg;
    uint64_t seen = pc_claim_gen(atomic_load_explicit(&p->claim, memory_order_acquire));
    for (;;) {
        int64_t since = pc_now_ns();
        uint64_t c;
        for (unsigned spins = 1;; spins++) {
            c = atomic_load_explicit(&p->claim, memory_order_acquire);
            if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return NULL;
            if (pc_claim_gen(c) != seen) break;
            PC_RELAX();
            if (spins % 256 == 0 && pc_now_ns() - since > PC_POOL_SPIN_NS) {
                // Sleep. sleepers is raised before re-checking the word; pc_pool_run stores the
                // word before reading sleepers (both seq_cst), so one of them sees the other.
                pthread_mutex_lock(&p->mu);
                atomic_fetch_add(&p->sleepers, 1);
                while (pc_claim_gen(atomic_load(&p->claim)) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mu);
                since = pc_now_ns();
            }
        }
        seen = pc_claim_gen(c);
        pc_pool_work(p, seen);
    }
}

pc_pool *pc_pool_create(int threads) {
    pc_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->workers = threads > 1 ? threads - 1 : 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tids = p->workers ? calloc((size_t)p->workers, sizeof(pthread_t)) : NULL;
    for (int i = 0; i < p->workers; i++) {
        if (!p->tids || pthread_create(&p->tids[i], NULL, pc_pool_main, p) != 0) {
            p->workers = i;  // run with the threads we got (at worst the caller alone)
            break;
        }
    }
    return p;
}

void pc_pool_destroy(pc_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->workers; i++) pthread_join(p->tids[i], NULL);
    free(p->tids);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void pc_pool_run(pc_pool *p, int64_t parts, pc_pool_fn fn, void *ctx) {
    if (parts <= 0) return;
    // No workers, too many parts for the claim word, or the pool already busy (a nested call from
    // inside a part, or another thread sharing the pool): run every part here, in order.
    if (!p || p->workers == 0 || parts > PC_PARTS_MAX || atomic_exchange(&p->busy, 1)) {
        for (int64_t i = 0; i < parts; i++) fn(ctx, i);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint64_t gen = (pc_claim_gen(atomic_load_explicit(&p->claim, memory_order_relaxed)) + 1) & 0xffffff;
    atomic_store(&p->claim, (gen << (2 * PC_PARTS_BITS)) | ((uint64_t)parts << PC_PARTS_BITS));
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    pc_pool_work(p, gen);
    // Wait for the parts the workers took; yield now and then in case one was descheduled.
    for (unsigned spins = 1; atomic_load_explicit(&p->done, memory_order_acquire) < parts; spins++) {
        PC_RELAX();
        if (spins % 4096 == 0) sched_yield();
    }
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}
