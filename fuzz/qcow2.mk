# libFuzzer targets of the qcow2 module (none yet).
