// sign-in-screen.tsx
import { useSignIn } from '@clerk/clerk-expo';
import { useState } from 'react';
import { Button, StyleSheet, Text, TextInput, View } from 'react-native';

/** Email and password sign-in with Clerk; use whichever of Clerk's sign-in flows your instance offers. */
export function SignInScreen() {
  const { isLoaded, signIn, setActive } = useSignIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    if (!isLoaded) return;
    setError(null);
    try {
      const attempt = await signIn.create({ identifier: email, password });
      if (attempt.status === 'complete') await setActive({ session: attempt.createdSessionId });
      else setError('This account needs another sign-in step.');
    } catch {
      setError('Wrong email or password.');
    }
  };

  return (
    <View style={styles.form}>
      <TextInput style={styles.input} placeholder="Email" autoCapitalize="none" keyboardType="email-address" value={email} onChangeText={setEmail} />
      <TextInput style={styles.input} placeholder="Password" secureTextEntry value={password} onChangeText={setPassword} />
      {error ? <Text style={styles.error}>{error}</Text> : null}
      <Button title="Sign in" onPress={() => void submit()} disabled={!isLoaded} />
    </View>
  );
}

const styles = StyleSheet.create({
  form: { flex: 1, justifyContent: 'center', gap: 12, padding: 24 },
  input: { borderWidth: 1, borderColor: '#ccc', borderRadius: 8, padding: 12 },
  error: { color: '#b00020' },
});
