#ifndef SUSTAIN_CPOWERCAP_SHIM_H
#define SUSTAIN_CPOWERCAP_SHIM_H
#include <powercap/powercap.h>
#include <powercap/powercap-sysfs.h>
#endif
