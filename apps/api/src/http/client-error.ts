import { type Server } from 'node:http';
import { type Socket } from 'node:net';
import { newRequestId } from '@castforge/core';

/**
 * Requests Node's HTTP parser refuses before Express sees them (a control byte in a header, headers past
 * 16 KB, a broken request line) get the SPEC §8 body and a request id too, instead of Node's bare 400 or 431.
 * All are 400 MALFORMED_REQUEST (SPEC §8's code for a request that cannot be read); the message says which.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const requestId = newRequestId();
    const body = JSON.stringify({
      error_code: 'MALFORMED_REQUEST',
      message: tooLarge
        ? 'the request headers are too large (16 KB at most)'
        : 'the request is not valid HTTP (e.g. a control character in a header)',
      detail: [],
      request_id: requestId,
    });
    socket.end(
      'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n' +
        `X-Request-Id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
}
