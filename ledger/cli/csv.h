/*
 * RFC 4180 CSV records from a file that may be gzip-compressed (AWS Data
 * Exports write CUR 2.0 as .csv.gz): zlib's gzread reads both, so one
 * reader serves either. Quoted fields may hold commas, doubled quotes and
 * line breaks (CUR 2.0's resource_tags is a JSON map in one field).
 *
 * Caps: a record is at most TG_CSV_RECORD_MAX bytes and TG_CSV_FIELDS_MAX
 * fields; a longer one is an error for that record only, and reading goes
 * on at the next line. Not thread-safe; one reader per file.
 */
#ifndef TG_LEDGER_CSV_H
#define TG_LEDGER_CSV_H

#include <stddef.h>
#include <stdint.h>

#define TG_CSV_RECORD_MAX (1024 * 1024)
#define TG_CSV_FIELDS_MAX 512

typedef struct tg_csv tg_csv_t;

/* Opens path ("-" = standard input). NULL with errstr. */
tg_csv_t *tg_csv_open(const char *path, char *errstr, size_t size);
void tg_csv_close(tg_csv_t *c);

/* The next record: fields[0..*n) point into the reader's buffer until the
 * next call; *line is the line it starts on (1 = the first). Returns 1, 0
 * at the end, -1 when this record is unusable (errstr says why; the next
 * call goes on after it), -2 on a read error (stop). */
int tg_csv_next(tg_csv_t *c, char **fields, size_t *n, int64_t *line,
                char *errstr, size_t size);

#endif
