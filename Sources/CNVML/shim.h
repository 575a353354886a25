#ifndef SUSTAIN_CNVML_SHIM_H
#define SUSTAIN_CNVML_SHIM_H
// The few NVML declarations sustain uses, for calling libnvidia-ml.so.1 through dlopen/dlsym: no link-time
// dependency, so the binary runs on machines without the NVIDIA driver. Signatures as in NVIDIA's nvml.h.

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

// nvmlProcessInfo_t (v2/v3 layout).
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_LIBRARY_NOT_FOUND 12
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_UNKNOWN 999

typedef nvmlReturn_t (*sustain_nvmlInit_v2)(void);
typedef nvmlReturn_t (*sustain_nvmlShutdown)(void);
typedef const char *(*sustain_nvmlErrorString)(nvmlReturn_t);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetCount_v2)(unsigned int *);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetHandleByIndex_v2)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetName)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetUUID)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetTotalEnergyConsumption)(nvmlDevice_t, unsigned long long *);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetPowerUsage)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetComputeRunningProcesses)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
typedef nvmlReturn_t (*sustain_nvmlSystemGetDriverVersion)(char *, unsigned int);
// Power limits (mW): the one in force, the range the board allows, and the setter (root).
typedef nvmlReturn_t (*sustain_nvmlDeviceGetPowerManagementLimit)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*sustain_nvmlDeviceGetPowerManagementLimitConstraints)(nvmlDevice_t, unsigned int *, unsigned int *);
typedef nvmlReturn_t (*sustain_nvmlDeviceSetPowerManagementLimit)(nvmlDevice_t, unsigned int);

#endif
