use warden::protected;

#[protected(any())]
async fn empty_any() {}

#[protected(all())]
async fn empty_all() {}

#[protected(not())]
async fn empty_not() {}

fn main() {}
