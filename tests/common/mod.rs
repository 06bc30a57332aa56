pub mod captures;
pub mod panes;
pub mod tmux;
