// lib/clerk_tokens.dart
import 'package:clerk_flutter/clerk_flutter.dart';
import 'package:flutter/widgets.dart';
import 'package:stream_chat_flutter/stream_chat_flutter.dart';

import 'stream_token_service.dart';

/// With Clerk's Flutter SDK instead of Firebase Auth: only the session-token function and the
/// user id change. Call from a widget under `ClerkAuth`.
Future<StreamTokenService> connectWithClerk(BuildContext context, StreamChatClient client, String tokenServiceUrl) async {
  // Read once, not listened to.
  final auth = ClerkAuth.of(context, listen: false);
  final tokens = StreamTokenService(
    endpoint: tokenServiceUrl,
    getSessionToken: () async => auth.isSignedIn ? (await auth.sessionToken()).jwt : null,
  );
  // The Clerk user id is the token's `sub`, which the service puts in the Stream token.
  await client.connectUserWithProvider(User(id: auth.user!.id), tokens.tokenProvider);
  return tokens;
}
