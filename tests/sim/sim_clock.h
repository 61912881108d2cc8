#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ns: delays and the quota must not jump with NTP. */
uint64_t sim_now_ns(void);

#endif
