# Tests of the blkdebug module (none yet).
