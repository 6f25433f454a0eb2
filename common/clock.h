/* clock.h: the one clock of the programs (CLOCK_MONOTONIC for deadlines and
 * durations, CLOCK_REALTIME for time stamps). */
#ifndef FX_CLOCK_H
#define FX_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds / microseconds (for deadlines and durations). */
int64_t fx_now_ms(void);
int64_t fx_now_us(void);
/* Wall clock, nanoseconds since the epoch (for time stamps). */
uint64_t fx_wall_ns(void);

#endif
