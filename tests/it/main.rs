mod common;
mod golden;
