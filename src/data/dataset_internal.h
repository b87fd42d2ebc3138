/* Internal: shared by the data set and the loader. */
#ifndef CP_DATASET_INTERNAL_H
#define CP_DATASET_INTERNAL_H

/* min(2, online cores): the default number of decoding threads. */
int cp_default_threads(void);

#endif
