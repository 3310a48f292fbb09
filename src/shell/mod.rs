//! The imperative shell: every await and syscall lives here.
