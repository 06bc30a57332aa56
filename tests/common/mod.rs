pub mod captures;
pub mod tmux;
