# libFuzzer targets of the qcow2 module: the header / extension /
# snapshot table parser.  Seeds: any qcow2 images (qemu-img create).
noinst_PROGRAMS += fuzz-qcow2-header
fuzz_qcow2_header_SOURCES = fuzz-qcow2-header.c ../plugins/qcow2/header.c
fuzz_qcow2_header_CPPFLAGS = -I$(top_srcdir)/plugins/qcow2
fuzz_qcow2_header_CFLAGS = $(FUZZ_CFLAGS)
fuzz_qcow2_header_LDFLAGS = $(FUZZ_CFLAGS)
