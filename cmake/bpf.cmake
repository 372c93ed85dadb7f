# Builds bpf/*.bpf.c as CO-RE objects and generates libbpf skeletons.
#
# vmlinux.h is generated at build time from the running kernel's BTF
# (SONDE_BTF) unless SONDE_VMLINUX_H names one. CO-RE relocations make the
# objects portable across kernels, so any recent BTF will do; generating it
# keeps a 3 MB machine-written header out of the tree.
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(SONDE_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${SONDE_BPF_OUT})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
	set(BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
	set(BPF_ARCH arm64)
else()
	message(FATAL_ERROR "sonde: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

if(SONDE_VMLINUX_H)
	set(VMLINUX_H ${SONDE_VMLINUX_H})
else()
	if(NOT EXISTS ${SONDE_BTF})
		message(FATAL_ERROR "sonde: no kernel BTF at ${SONDE_BTF}; "
			"pass -DSONDE_BTF=<file> or -DSONDE_VMLINUX_H=<vmlinux.h>")
	endif()
	set(VMLINUX_H ${SONDE_BPF_OUT}/vmlinux.h)
	add_custom_command(OUTPUT ${VMLINUX_H}
		COMMAND ${BPFTOOL} btf dump file ${SONDE_BTF} format c > ${VMLINUX_H}.tmp
		COMMAND ${CMAKE_COMMAND} -E rename ${VMLINUX_H}.tmp ${VMLINUX_H}
		COMMENT "vmlinux.h from ${SONDE_BTF}")
endif()

function(sonde_bpf_skeletons out_var)
	set(skels)
	foreach(src ${ARGN})
		get_filename_component(name ${src} NAME_WE) # oncpu.bpf.c -> oncpu
		set(obj ${SONDE_BPF_OUT}/${name}.bpf.o)
		set(skel ${SONDE_BPF_OUT}/${name}.skel.h)
		add_custom_command(OUTPUT ${obj}
			COMMAND ${BPF_CLANG} -target bpf -mcpu=v3 -g -O2 -Wall -Werror
				-D__TARGET_ARCH_${BPF_ARCH}
				-I ${SONDE_BPF_OUT} -I ${CMAKE_SOURCE_DIR}/include
				-c ${src} -o ${obj}
			DEPENDS ${src} ${VMLINUX_H} ${CMAKE_SOURCE_DIR}/include/sonde_events.h
				${CMAKE_SOURCE_DIR}/bpf/sonde_bpf.h ${CMAKE_SOURCE_DIR}/bpf/sonde_ucopy.h
			COMMENT "clang -target bpf ${name}.bpf.c")
		add_custom_command(OUTPUT ${skel}
			COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
			COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
			DEPENDS ${obj}
			COMMENT "bpftool gen skeleton ${name}")
		list(APPEND skels ${skel})
	endforeach()
	set(${out_var} ${skels} PARENT_SCOPE)
endfunction()
