#ifndef SUSTAIN_CLINUX_SHIM_H
#define SUSTAIN_CLINUX_SHIM_H
// Linux interfaces that Swift's Glibc module does not expose.
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/mount.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <unistd.h>

// sched_setaffinity for the calling thread (glibc declares it only under _GNU_SOURCE): keeps it on CPU `cpu`.
static inline int sustain_pin_to_cpu(int cpu) {
    unsigned long mask[16] = {0};
    const int bits = (int)(8 * sizeof(unsigned long));
    if (cpu < 0 || cpu >= 16 * bits) return -1;
    mask[cpu / bits] |= 1UL << (cpu % bits);
    return (int)syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);
}
#endif
