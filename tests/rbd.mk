# Tests of the rbd module (none yet).
