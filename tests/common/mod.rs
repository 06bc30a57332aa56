pub mod captures;
pub mod cli;
pub mod panes;
pub mod tmux;
pub mod wait;
