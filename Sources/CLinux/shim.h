#ifndef SUSTAIN_CLINUX_SHIM_H
#define SUSTAIN_CLINUX_SHIM_H
// Linux interfaces that Swift's Glibc module does not expose.
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/mount.h>
#include <malloc.h>
#endif
