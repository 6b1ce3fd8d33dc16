//! The store: accounts, realms, character counts and the login audit, behind one API.
