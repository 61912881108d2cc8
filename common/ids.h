#ifndef TG_IDS_H
#define TG_IDS_H

#include <stdint.h>

/* A random (version 4) UUID, lowercase, into out[37]. */
void tg_uuid4(char out[37]);

/* 64 random bits from the kernel, for seeding PRNGs. */
uint64_t tg_random64(void);

#endif
