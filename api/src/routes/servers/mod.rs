pub mod bootstrap;
pub mod check;
pub mod create;
pub mod delete;
pub mod events;
pub mod list;
pub mod show;
pub mod update;
