pub mod create;
pub mod delete;
pub mod list;
pub mod render;
pub mod show;
pub mod update;
