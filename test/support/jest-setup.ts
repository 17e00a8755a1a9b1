// Shared by every test file. Nothing here mocks a service: tests talk to the real Redis and MongoDB.
jest.setTimeout(30_000);
