/** The script repository: git object store, publish, resolve, sync protocol, browse API. */
export {};
