#ifndef SUSTAIN_CSENSORS_SHIM_H
#define SUSTAIN_CSENSORS_SHIM_H
#include <sensors/sensors.h>
#include <sensors/error.h>
#endif
