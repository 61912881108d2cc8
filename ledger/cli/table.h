/*
 * Aligned text tables for people: collect the rows, then print with each
 * column as wide as its widest cell. Numeric columns align right.
 */
#ifndef TG_LEDGER_TABLE_H
#define TG_LEDGER_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TG_TABLE_COLS_MAX 24

typedef struct tg_table {
        int ncols;
        const char *headers[TG_TABLE_COLS_MAX];
        int right[TG_TABLE_COLS_MAX]; /* 1: align right */
        char **cells;                 /* nrows * ncols, owned */
        size_t nrows, cap, col;       /* col: next cell of the open row */
} tg_table_t;

/* `spec` is one header per column; a header starting with '>' aligns its
 * column right (the '>' is not printed). Returns 0 or -1. */
int tg_table_init(tg_table_t *t, int ncols, const char *const *spec);

/* Appends a cell to the current row; a row ends after ncols cells. */
int tg_table_cell(tg_table_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void tg_table_print(const tg_table_t *t, FILE *out);
void tg_table_free(tg_table_t *t);

#endif
