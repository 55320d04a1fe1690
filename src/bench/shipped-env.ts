/**
 * The glibc allocator settings every shipped launch path gives a gateway or proxy: the container
 * image's `ENV` and the systemd units' `Environment=` (docs/operations.md "Memory allocator",
 * decisions.md D92). The bench starts its gateway and proxy processes with them, as they run when
 * deployed; test/unit/packaging checks that the image and the units carry these values.
 *
 * A tunnel moves every body through malloc: ws joins each 256 KiB message into a fresh buffer, Node
 * reads each socket into a fresh 64 KiB one. With glibc's defaults the heap's top is handed back to
 * the kernel as soon as 128 KiB-256 KiB of it is free and taken again a moment later, and on a VM
 * each page taken back costs a fault: up to ~30,000 per 200 MB stream on the development machine,
 * most of a gateway's CPU for it. Buffers up to 1 MiB come from the heap, and up to 16 MiB of free
 * heap is kept instead.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '1048576',
  MALLOC_TRIM_THRESHOLD_: '16777216',
};
