// A fake libnvidia-ml.so.1 for sustain's tests: GPUs at known, constant power. Configured by environment:
//   FAKE_NVML_INIT     return code of nvmlInit_v2 (default 0)
//   FAKE_NVML_GPUS     comma list of WATTS:MODE, MODE "counter" (energy counter) or "power" (power only)
//   FAKE_NVML_LOST     INDEX:SECONDS, that GPU answers NVML_ERROR_GPU_IS_LOST from SECONDS after init
//   FAKE_NVML_PIDFILE  a file of pids (one per line) reported as running on GPU FAKE_NVML_PIDGPU (default 0)
//   FAKE_NVML_LIMITS   MIN:MAX, the power limit's range in watts (default 100:300); the limit starts at MAX
//   FAKE_NVML_STATE    a directory holding each GPU's limit (limit-INDEX: "MILLIWATTS MILLIJOULES SECONDS", the
//                      limit set and the energy counter at the monotonic instant it was set), so that a limit set
//                      by one process (root only, as NVML) holds for every other; without it the limit is per process
// A GPU draws min(WATTS, limit). Energy counters read 1e9 mJ + that power × CLOCK_MONOTONIC ("since driver load"),
// continued from the instant of the last change: the same in every process.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_t;
typedef struct { int index; } device;

static device devices[16];
static double watts[16];
static int counter[16];
static int count = 0;
static int lost_index = -1;
static double lost_after = 0;
static double start = 0;
static unsigned int limit_min = 100000, limit_max = 300000;  // mW
// Per process, when there is no FAKE_NVML_STATE.
static unsigned int local_limit[16];
static double local_base[16], local_since[16];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

nvmlReturn_t nvmlInit_v2(void) {
    const char *init = getenv("FAKE_NVML_INIT");
    if (init && atoi(init) != 0) return atoi(init);
    const char *gpus = getenv("FAKE_NVML_GPUS");
    count = 0;
    if (gpus) {
        char copy[512];
        strncpy(copy, gpus, sizeof copy - 1);
        copy[sizeof copy - 1] = 0;
        for (char *item = strtok(copy, ","); item && count < 16; item = strtok(NULL, ",")) {
            watts[count] = atof(item);
            counter[count] = strstr(item, "counter") != NULL;
            devices[count].index = count;
            count++;
        }
    }
    const char *lost = getenv("FAKE_NVML_LOST");
    if (lost) {
        lost_index = atoi(lost);
        const char *colon = strchr(lost, ':');
        lost_after = colon ? atof(colon + 1) : 0;
    }
    const char *limits = getenv("FAKE_NVML_LIMITS");
    if (limits) {
        const char *colon = strchr(limits, ':');
        limit_min = (unsigned int)(atof(limits) * 1000);
        if (colon) limit_max = (unsigned int)(atof(colon + 1) * 1000);
    }
    for (int i = 0; i < 16; i++) {
        local_limit[i] = limit_max;
        local_base[i] = 1e9;
        local_since[i] = 0;
    }
    start = now();
    return 0;
}

// The limit in force on GPU `index` and the counter (mJ) at the instant `since` it was set.
static void limit_state(int index, unsigned int *limit, double *base, double *since) {
    *limit = local_limit[index];
    *base = local_base[index];
    *since = local_since[index];
    const char *dir = getenv("FAKE_NVML_STATE");
    if (!dir) return;
    char path[512];
    snprintf(path, sizeof path, "%s/limit-%d", dir, index);
    FILE *file = fopen(path, "r");
    if (!file) {
        *limit = limit_max;
        *base = 1e9;
        *since = 0;
        return;
    }
    if (fscanf(file, "%u %lf %lf", limit, base, since) != 3) {
        *limit = limit_max;
        *base = 1e9;
        *since = 0;
    }
    fclose(file);
}

static double drawn_watts(int index) {
    unsigned int limit;
    double base, since;
    limit_state(index, &limit, &base, &since);
    double cap = limit / 1000.0;
    return watts[index] < cap ? watts[index] : cap;
}

static double counter_mj(int index) {
    unsigned int limit;
    double base, since;
    limit_state(index, &limit, &base, &since);
    double cap = limit / 1000.0;
    double power = watts[index] < cap ? watts[index] : cap;
    return base + power * (now() - since) * 1000.0;
}

// What nvidia-ml-py calls instead of nvmlInit_v2 (scripts/gpu-check.py is tried against this fake too).
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return nvmlInit_v2(); }

nvmlReturn_t nvmlShutdown(void) { return 0; }

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case 0: return "Success";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    snprintf(version, length, "550.00-fake");
    return 0;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) { *n = (unsigned int)count; return 0; }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, device **handle) {
    if ((int)index >= count) return 2;
    *handle = &devices[index];
    return 0;
}

static int is_lost(device *d) { return d->index == lost_index && now() - start >= lost_after; }

nvmlReturn_t nvmlDeviceGetName(device *d, char *name, unsigned int length) {
    snprintf(name, length, "Fake GPU %d (%s)", d->index, counter[d->index] ? "Volta+" : "Pascal");
    return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(device *d, char *uuid, unsigned int length) {
    snprintf(uuid, length, "GPU-fa4e0000-0000-0000-0000-00000000000%d", d->index);
    return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(device *d, unsigned long long *millijoules) {
    if (is_lost(d)) return 15;
    if (!counter[d->index]) return 3;
    // Since "driver load": the monotonic clock, so every process that loads the library reads the same counter.
    *millijoules = (unsigned long long)counter_mj(d->index);
    return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(device *d, unsigned int *milliwatts) {
    if (is_lost(d)) return 15;
    *milliwatts = (unsigned int)(drawn_watts(d->index) * 1000.0);
    return 0;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(device *d, unsigned int *limit) {
    if (is_lost(d)) return 15;
    double base, since;
    limit_state(d->index, limit, &base, &since);
    return 0;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(device *d, unsigned int *minimum, unsigned int *maximum) {
    if (is_lost(d)) return 15;
    *minimum = limit_min;
    *maximum = limit_max;
    return 0;
}

// As NVML: root only (NVML_ERROR_NO_PERMISSION), within the constraints (NVML_ERROR_INVALID_ARGUMENT).
nvmlReturn_t nvmlDeviceSetPowerManagementLimit(device *d, unsigned int limit) {
    if (is_lost(d)) return 15;
    if (geteuid() != 0) return 4;
    if (limit < limit_min || limit > limit_max) return 2;
    double counter = counter_mj(d->index);
    double at = now();
    const char *dir = getenv("FAKE_NVML_STATE");
    if (!dir) {
        local_limit[d->index] = limit;
        local_base[d->index] = counter;
        local_since[d->index] = at;
        return 0;
    }
    char path[512], temporary[540];
    snprintf(path, sizeof path, "%s/limit-%d", dir, d->index);
    snprintf(temporary, sizeof temporary, "%s.%d.tmp", path, (int)getpid());
    FILE *file = fopen(temporary, "w");
    if (!file) return 999;
    fchmod(fileno(file), 0644);  // readable by everyone, as nvidia-smi shows the limit to everyone
    fprintf(file, "%u %.3f %.9f\n", limit, counter, at);
    fclose(file);
    return rename(temporary, path) == 0 ? 0 : 999;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(device *d, unsigned int *n, nvmlProcessInfo_t *infos) {
    unsigned int pids[64];
    unsigned int found = 0;
    const char *path = getenv("FAKE_NVML_PIDFILE");
    const char *gpu = getenv("FAKE_NVML_PIDGPU");
    if (path && d->index == (gpu ? atoi(gpu) : 0)) {
        FILE *file = fopen(path, "r");
        if (file) {
            while (found < 64 && fscanf(file, "%u", &pids[found]) == 1) found++;
            fclose(file);
        }
    }
    if (*n < found) {
        *n = found;
        return found ? 7 : 0;  // NVML_ERROR_INSUFFICIENT_SIZE
    }
    for (unsigned int i = 0; i < found; i++) {
        infos[i].pid = pids[i];
        infos[i].usedGpuMemory = 1ULL << 30;
        infos[i].gpuInstanceId = 0xFFFFFFFF;
        infos[i].computeInstanceId = 0xFFFFFFFF;
    }
    *n = found;
    return 0;
}
