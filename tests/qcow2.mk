# Tests of the qcow2 plugin (plugins/qcow2).  Everything the plugin
# writes is judged by qemu-img check / compare.
EXTRA_DIST += qcow2-helpers.sh

SCRIPT_TESTS += \
	test-qcow2-read-interop.sh \
	test-qcow2-write-qemu-io.sh \
	test-qcow2-write-backing.sh \
	test-qcow2-random.sh \
	test-qcow2-concurrent.sh
