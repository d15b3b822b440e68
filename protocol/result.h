/* result.h -- the one result vocabulary of non-blocking steps in weir. */
#ifndef WEIR_RESULT_H
#define WEIR_RESULT_H

enum wr_result {
    WR_ERROR = -1, /* failed; the caller closes what it was working on */
    WR_OK = 0,     /* done, result available */
    WR_AGAIN = 1,  /* need more input (parsers) or the socket would block */
    WR_DONE = 2,   /* finished and nothing more will come (EOF, terminate) */
};

#define WR_MUST_CHECK __attribute__((warn_unused_result))

#endif
