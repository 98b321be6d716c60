# libFuzzer targets of the blkdebug module (none yet).
